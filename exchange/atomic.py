"""The one way a local file is written: whole or not at all, and durable once written.

The content goes to a temporary file beside the target, which is flushed and fsynced, renamed
over the target, and the folder is fsynced so the rename survives a crash. A reader sees the old
file or the new one, never half of one; a failure leaves the old file and no debris.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary stream that replaces ``path`` only if the block completes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and durably; return ``path``."""
    with atomic_output(path) as out:
        out.write(data)
    return Path(path)


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and durably; return ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: dict) -> Path:
    """Write a JSON document (indented, sorted keys, final newline) atomically and durably."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
