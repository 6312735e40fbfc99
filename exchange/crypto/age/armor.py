"""Strict ASCII armor: PEM type "AGE ENCRYPTED FILE", 64 columns, canonical padded base64.

Only whitespace is tolerated before the BEGIN line and after the END line;
lines may end in LF or CRLF. Anything else raises :class:`ArmorError`.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import BinaryIO

from exchange.crypto.age.errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
_WHITESPACE = b" \t\r\n"
_BYTES_PER_LINE = 48
_BLOCK = 256 * 1024
_SNIFF = 1024
_FULL_LINES = re.compile(rb"(?:[A-Za-z0-9+/]{64}\r?\n)*")
_LAST_LINE = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_HINT = "the armored file was altered or re-wrapped; fetch the original file again"


class ArmoredWriter:
    """File-like writer that armors everything written to it; ``close()`` writes the END line.

    Use as a context manager. Closing does not close ``dst``.
    """

    def __init__(self, dst: BinaryIO):
        self._dst = dst
        self._pending = bytearray()
        self._started = False
        self._closed = False

    def __enter__(self) -> ArmoredWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def writable(self) -> bool:
        """Always true: this is a write-only stream."""
        return True

    def _emit(self, data: bytes | bytearray) -> None:
        encoded = binascii.b2a_base64(data, newline=False)
        lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
        self._dst.write(b"\n".join(lines) + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Armor ``data``; whole 64-column lines are written at once."""
        if self._closed:
            raise ValueError("write to a closed ArmoredWriter")
        if not self._started:
            self._dst.write(BEGIN + b"\n")
            self._started = True
        self._pending += data
        usable = len(self._pending) // _BYTES_PER_LINE * _BYTES_PER_LINE
        if usable:
            self._emit(self._pending[:usable])
            del self._pending[:usable]
        return len(data)

    def flush(self) -> None:
        """Flush ``dst`` (a partial last line stays buffered until close)."""
        self._dst.flush()

    def close(self) -> None:
        """Write the last line and the END line. Idempotent."""
        if self._closed:
            return
        if not self._started:
            self._dst.write(BEGIN + b"\n")
        if self._pending:
            self._emit(self._pending)
        self._dst.write(END + b"\n")
        self._closed = True


def _fail(what: str) -> ArmorError:
    return ArmorError(f"ASCII armor is invalid: {what}", hint=_HINT)


class ArmorReader:
    """Decodes armored input on the fly, exposing ``read``/``readinto`` of the binary file."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._text = bytearray()
        self._out = bytearray()
        self._eof = False
        self._state = "begin"

    def _fill(self) -> None:
        more = self._raw.read(_BLOCK)
        if more:
            self._text += more
        else:
            self._eof = True

    def _line(self) -> bytes | None:
        """Pop the next line without its LF / CRLF; None if more input is needed."""
        end = self._text.find(b"\n")
        if end < 0:
            if not self._eof:
                return None
            end = len(self._text)
        line = bytes(self._text[:end])
        del self._text[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _advance(self) -> None:
        if self._state == "begin":
            stripped = self._text.lstrip(_WHITESPACE)
            if not stripped and not self._eof:
                self._text.clear()
                return self._fill()
            self._text = bytearray(stripped)
            line = self._line()
            if line is None:
                return self._fill()
            if line != BEGIN:
                raise _fail(f"the first line is not {BEGIN.decode()}")
            self._state = "body"
        elif self._state == "body":
            end = _FULL_LINES.match(self._text).end()
            if end:
                self._out += binascii.a2b_base64(self._text[:end])
                del self._text[:end]
                return None
            if b"\n" not in self._text and not self._eof:
                return self._fill()
            line = self._line()
            if line == END:
                self._state = "trailer"
            else:
                self._out += self._decode_last_line(line or b"")
                self._state = "end"
        elif self._state == "end":
            line = self._line()
            if line is None:
                return self._fill()
            if line != END:
                raise _fail("a short or malformed line is not followed by the END line")
            self._state = "trailer"
        elif self._state == "trailer":
            if self._text.strip(_WHITESPACE):
                raise _fail("there is data after the END line")
            self._text.clear()
            if self._eof:
                self._state = "done"
            else:
                self._fill()
        return None

    @staticmethod
    def _decode_last_line(line: bytes) -> bytes:
        if not line:
            raise _fail("an empty line or unexpected end of input inside the armor")
        if len(line) > 64 or len(line) % 4 or not _LAST_LINE.fullmatch(line):
            raise _fail("a line is too long, too short, or has characters outside base64")
        try:
            data = binascii.a2b_base64(line, strict_mode=True)
        except binascii.Error:
            raise _fail("a line is not valid padded base64") from None
        if base64.b64encode(data) != line:
            raise _fail("a line is not canonical base64")
        return data

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` with decoded bytes; return 0 at the end of the armored file."""
        while not self._out and self._state != "done":
            self._advance()
        size = min(len(view), len(self._out))
        view[:size] = self._out[:size]
        del self._out[:size]
        return size

    def read(self, size: int = -1) -> bytes:
        """Return up to ``size`` decoded bytes (all remaining if negative)."""
        chunks = []
        while size < 0 or size > 0:
            buf = bytearray(_BLOCK if size < 0 else size)
            got = self.readinto(memoryview(buf))
            if not got:
                break
            chunks.append(bytes(buf[:got]))
            size = size - got if size > 0 else size
        return b"".join(chunks)


class _Prefixed:
    """Serves ``prefix`` and then the rest of ``raw`` (after sniffing a stream)."""

    def __init__(self, prefix: bytes, raw: BinaryIO):
        self._prefix = prefix
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size < 0:
                data, self._prefix = self._prefix + self._raw.read(), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._raw.read(size)

    def readinto(self, view: memoryview) -> int:
        if self._prefix:
            size = min(len(view), len(self._prefix))
            view[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        if hasattr(self._raw, "readinto"):
            return self._raw.readinto(view)
        data = self._raw.read(len(view))
        view[: len(data)] = data
        return len(data)


def open_maybe_armored(src: BinaryIO) -> BinaryIO:
    """Return a binary age stream from ``src``, decoding ASCII armor when it is present.

    Armor is recognised by ``-----`` after optional whitespace, or by a BEGIN
    line anywhere in the first KiB (then rejected as leading garbage).
    """
    prefix = src.read(_SNIFF) or b""
    stream = _Prefixed(prefix, src)
    head = prefix.lstrip(_WHITESPACE)
    if head.startswith(b"age-encryption.org/"):
        return stream  # type: ignore[return-value]
    if head.startswith(b"-----") or BEGIN in prefix:
        return ArmorReader(stream)  # type: ignore[return-value,arg-type]
    return stream  # type: ignore[return-value]
