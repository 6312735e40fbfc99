"""Small stream adapters: hash what passes, count what passes, feed a writer into a reader."""

from __future__ import annotations

import hashlib
import os
import threading
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
    """Writes to ``dst`` while computing the SHA-256 and size of what was written."""

    def __init__(self, dst: BinaryIO):
        self._dst = dst
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self._dst.write(data)

    def flush(self) -> None:
        self._dst.flush()


class _PipeWriter:
    """The write end of a pipe with ``tell()``, as Arrow's writers expect of a sink."""

    def __init__(self, fd: int):
        self._out = os.fdopen(fd, "wb", buffering=1 << 20)
        self._pos = 0
        self.closed = False

    def write(self, data) -> int:
        self._out.write(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._out.close()


def consume_produced(produce: Callable[[_PipeWriter], None], consume: Callable[[BinaryIO], None]) -> None:
    """Run ``produce(sink)`` in a thread and ``consume(source)`` here, joined by a pipe.

    Memory stays at the pipe's buffers whatever the size of what flows. An error on
    either side stops both and is raised here.
    """
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def run() -> None:
        sink = _PipeWriter(write_fd)
        try:
            produce(sink)
        except BrokenPipeError:
            pass  # the consumer stopped early; its own error is raised below
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)
        finally:
            try:
                sink.close()
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=run, name="produce", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_fd, "rb", buffering=1 << 20) as source:
            consume(source)
    finally:
        thread.join()
    if failure:
        raise failure[0]


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
