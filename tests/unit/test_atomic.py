"""One atomic, durable write of local files (exchange/atomic.py)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from exchange import atomic


def test_a_json_document_is_written_whole(tmp_path):
    path = atomic.write_json_atomic(tmp_path / "new" / "doc.json", {"b": 1, "a": "é"})
    assert path.read_text() == '{\n  "a": "\\u00e9",\n  "b": 1\n}\n'
    assert json.loads(path.read_text()) == {"a": "é", "b": 1}


def test_the_file_and_its_folder_are_fsynced_before_the_write_returns(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.fstat(fd).st_mode) or real(fd))
    atomic.write_bytes_atomic(tmp_path / "f.bin", b"data")
    kinds = ["dir" if stat.S_ISDIR(mode) else "file" for mode in synced]
    assert kinds == ["file", "dir"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_debris(tmp_path):
    path = atomic.write_text_atomic(tmp_path / "report.html", "old")
    with pytest.raises(RuntimeError), atomic.atomic_output(path) as out:
        out.write(b"half of the new")
        raise RuntimeError("disk gone")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_replace_is_seen_whole(tmp_path):
    path = tmp_path / "latest.json"
    atomic.write_bytes_atomic(path, b"1" * 10_000)
    with atomic.atomic_output(path) as out:
        out.write(b"2" * 5_000)
        assert path.read_bytes() == b"1" * 10_000  # readers see the old file until the rename
    assert path.read_bytes() == b"2" * 5_000
