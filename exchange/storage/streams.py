"""Small stream adapters: hash and count what passes, and the SHA-256 of a file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class HashingReader:
    """Reads from ``src`` while computing the SHA-256 and size of what was read
    (and reporting each read's size to ``progress``, if given)."""

    def __init__(self, src: BinaryIO, progress: Callable[[int], None] | None = None):
        self._src = src
        self._progress = progress
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        self.hash.update(data)
        self.size += len(data)
        if self._progress:
            self._progress(len(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class HashingWriter:
    """Writes to ``dst`` while computing the SHA-256 and size of what was written
    (a sink Arrow's writers accept: it tells its position)."""

    def __init__(self, dst: BinaryIO):
        self._dst = dst
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self._dst.write(data)
        return len(data)

    @property
    def closed(self) -> bool:
        return bool(getattr(self._dst, "closed", False))

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._dst.flush()


def copy_at_most(src: BinaryIO, dst: BinaryIO, limit: int, progress: Callable[[int], None] | None = None,
                 block: int = 1 << 20) -> bool:
    """Copy ``src`` into ``dst``, reading at most ``limit + 1`` bytes of it; False (and ``dst``
    holds only the first ``limit`` bytes or fewer) when ``src`` holds more than ``limit``.
    ``progress`` is told the size of each block copied."""
    copied = 0
    while data := src.read(min(block, limit - copied + 1)):
        copied += len(data)
        if copied > limit:
            return False
        dst.write(data)
        if progress:
            progress(len(data))
    return True


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
