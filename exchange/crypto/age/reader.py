"""A thin buffered reader over any binary stream: lines for the header, full reads for chunks."""

from __future__ import annotations

from typing import BinaryIO


class Reader:
    """Reads lines (header) and exact-size blocks (payload) from ``raw``.

    Bytes read ahead while looking for a line end are kept and served first by
    :meth:`readinto_full`, so nothing is lost between header and payload.
    """

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._pending = bytearray()
        self._readinto = getattr(raw, "readinto", None)

    def readline(self, limit: int) -> bytes:
        """Return the next line including its LF (without it at EOF), at most ``limit`` bytes."""
        start = 0
        while True:
            end = self._pending.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if len(self._pending) >= limit:
                end = limit
                break
            start = len(self._pending)
            more = self._raw.read(4096)
            if not more:
                end = len(self._pending)
                break
            self._pending += more
        end = min(end, limit)
        line = bytes(self._pending[:end])
        del self._pending[:end]
        return line

    def readinto_full(self, view: memoryview) -> int:
        """Fill ``view`` completely unless EOF comes first; return the number of bytes read."""
        filled = 0
        if self._pending:
            filled = min(len(self._pending), len(view))
            view[:filled] = self._pending[:filled]
            del self._pending[:filled]
        size = len(view)
        while filled < size:
            if self._readinto is not None:
                got = self._readinto(view[filled:])
            else:
                data = self._raw.read(size - filled)
                got = len(data) if data else 0
                view[filled : filled + got] = data or b""
            if not got:
                break
            filled += got
        return filled
