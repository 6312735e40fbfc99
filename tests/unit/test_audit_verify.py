"""verify_log names every kind of tampering and the line it happened at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.audit.log import AuditLog, verify_log
from exchange.canonical import canonical_json


def _write_log(path: Path, count: int = 5) -> list[bytes]:
    log = AuditLog(path, "KHM")
    for n in range(count):
        log.append("publish", exchange_id=f"e{n + 1}", rows=n * 10)
    return path.read_bytes().splitlines(keepends=True)


INSERTED_3 = "line 3: inserted entry, not part of the hash chain (line 4 chains to line 2)"


def _edited(line: bytes, **changes) -> bytes:
    return canonical_json({**json.loads(line), **changes}, ascii=True) + b"\n"


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "KHM.audit.jsonl"


def _verify(path: Path, lines: list[bytes]):
    path.write_bytes(b"".join(lines))
    return verify_log(path)


def test_intact_log_verifies(path):
    _write_log(path)
    verdict = verify_log(path)
    assert verdict.ok and verdict.entries == 5 and verdict.head_seq == 5
    assert verdict.to_dict()["ok"] is True and verdict.to_dict()["problems"] == []


def test_edited_field_of_line_3(path):
    lines = _write_log(path)
    verdict = _verify(path, lines[:2] + [_edited(lines[2], rows=999)] + lines[3:])
    assert not verdict.ok
    assert verdict.problems == ["line 3: entry edited: hash chain breaks at line 3 "
                                "(its SHA-256 does not match 'prev' of line 4)"]


def test_edited_seq_of_line_3_is_an_edit_of_line_3(path):
    lines = _write_log(path)
    verdict = _verify(path, lines[:2] + [_edited(lines[2], seq=9)] + lines[3:])
    assert all(problem.startswith("line 3:") for problem in verdict.problems)
    assert any("edited" in problem for problem in verdict.problems)


def test_deleted_line_2(path):
    lines = _write_log(path)
    verdict = _verify(path, [lines[0]] + lines[2:])
    assert verdict.problems == ["line 2: seq jumps from 1 to 3: 1 entry dropped before line 2"]


def test_deleted_first_lines(path):
    lines = _write_log(path)
    verdict = _verify(path, lines[2:])
    assert verdict.problems == ["line 1: seq starts at 3: 2 entries dropped before it"]


def test_inserted_forged_line(path):
    lines = _write_log(path)
    forged = _edited(lines[2], exchange_id="forged")  # same seq and prev as the real line 3
    verdict = _verify(path, lines[:2] + [forged] + lines[2:])
    assert verdict.problems == [INSERTED_3]


def test_inserted_line_with_made_up_prev(path):
    lines = _write_log(path)
    forged = _edited(lines[1], exchange_id="forged", prev="1" * 64, seq=3)
    verdict = _verify(path, lines[:2] + [forged] + lines[2:])
    assert verdict.problems == [INSERTED_3]


def test_inserted_copy_of_a_line(path):
    lines = _write_log(path)
    verdict = _verify(path, lines[:2] + [lines[1]] + lines[2:])
    assert verdict.problems == ["line 3: inserted entry, a copy of line 2"]


def test_swapped_lines_2_and_3(path):
    lines = _write_log(path)
    verdict = _verify(path, [lines[0], lines[2], lines[1]] + lines[3:])
    assert len(verdict.problems) == 2
    assert verdict.problems[0].startswith("line 2: reordered entries")
    assert verdict.problems[1].startswith("line 3: reordered entries")


def test_line_moved_to_the_end(path):
    lines = _write_log(path)
    verdict = _verify(path, [lines[0]] + lines[2:] + [lines[1]])
    assert [p.split(":")[0] for p in verdict.problems] == ["line 2", "line 5"]
    assert all("reordered" in p for p in verdict.problems)


def test_malformed_json_line(path):
    lines = _write_log(path)
    verdict = _verify(path, lines[:2] + [b"{not json\n"] + lines[3:])
    assert verdict.problems == ["line 3: malformed JSON"]


def test_missing_field_and_cut_last_line(path):
    lines = _write_log(path)
    no_prev = json.loads(lines[3])
    del no_prev["prev"]
    verdict = _verify(path, lines[:3] + [canonical_json(no_prev, ascii=True) + b"\n", lines[4][:30]])
    assert verdict.problems == ["line 4: malformed entry (missing or invalid 'prev')",
                                "line 5: incomplete last line (no newline): an interrupted write or a "
                                "cut file"]


def test_foreign_party_entry(path):
    lines = _write_log(path)
    verdict = _verify(path, lines[:4] + [_edited(lines[4], party="THA")])
    assert verdict.problems == ["line 5: entry of party THA in KHM's log"]


def test_several_tampers_are_all_named(path):
    lines = _write_log(path, 8)
    tampered = [lines[0], _edited(lines[1], rows=1)] + lines[2:4] + lines[5:]  # edit 2, drop 5
    verdict = _verify(path, tampered)
    assert [p.split(":")[0] for p in verdict.problems] == ["line 2", "line 5"]
    assert "edited" in verdict.problems[0] and "dropped" in verdict.problems[1]


def test_missing_log_is_empty(tmp_path):
    verdict = verify_log(tmp_path / "nothing.jsonl")
    assert verdict.ok and verdict.entries == 0 and verdict.head_seq == 0
