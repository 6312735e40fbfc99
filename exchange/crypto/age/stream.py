"""The STREAM payload: 64 KiB ChaCha20-Poly1305 chunks, counter nonces, a final-chunk flag.

:class:`Encryptor` is a writer (plaintext in, sealed chunks out); :class:`Decryptor` is
a reader (sealed chunks in, plaintext out). Each reuses one cipher object and fixed
buffers, so memory stays constant whatever the file size. A chunk's plaintext is served
only after its tag verified; the reader keeps one chunk of look-ahead to know which
chunk is the last.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from exchange.crypto.age.errors import HeaderError, PayloadError
from exchange.crypto.age.header import hkdf_sha256
from exchange.crypto.age.reader import Reader

CHUNK = 64 * 1024
TAG = 16
NONCE = 16
_HINT = "the file is truncated or was altered; discard the partial output and fetch the file again"


def _payload_cipher(file_key: bytes, nonce: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(hkdf_sha256(file_key, nonce, b"payload"))


class _Nonces:
    """The 12-byte chunk nonces: an 11-byte big-endian counter and the last-chunk flag."""

    def __init__(self) -> None:
        self.counter = 0
        self._nonce = bytearray(12)

    def next(self, last: bool) -> bytearray:
        self._nonce[:11] = self.counter.to_bytes(11, "big")
        self._nonce[11] = 1 if last else 0
        self.counter += 1
        return self._nonce


class Encryptor:
    """A write-only stream of plaintext that writes an age payload to ``dst``.

    A full chunk is sealed only once more plaintext arrives (it may be the last);
    :meth:`close` seals the last chunk and must be called for the file to be complete.
    Leaving a ``with`` block by an exception does *not* seal it: the output stays an
    invalid (truncated) age file rather than a valid file of part of the plaintext.
    ``dst`` is never closed, and must consume each ``write`` before returning (as files do).
    """

    def __init__(self, dst: BinaryIO, file_key: bytes):
        nonce = os.urandom(NONCE)
        dst.write(nonce)
        self._dst = dst
        self._aead = _payload_cipher(file_key, nonce)
        self._nonces = _Nonces()
        self._plain = memoryview(bytearray(CHUNK))
        self._sealed = memoryview(bytearray(CHUNK + TAG))
        self._filled = 0
        self._written = 0
        self.closed = False

    def __enter__(self) -> Encryptor:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.closed = True  # never seal a stream cut short by an error

    def writable(self) -> bool:
        """Always true: this is a write-only stream."""
        return True

    def tell(self) -> int:
        """Plaintext bytes written so far (Arrow's writers ask a sink for its position)."""
        return self._written

    def _seal(self, plain: memoryview, last: bool) -> None:
        sealed = self._sealed[: len(plain) + TAG]
        self._aead.encrypt_into(self._nonces.next(last), plain, None, sealed)
        self._dst.write(sealed)

    def write(self, data) -> int:
        """Encrypt ``data`` (bytes-like); whole chunks are sealed and written as they fill."""
        if self.closed:
            raise ValueError("write to a closed age encryptor")
        view = memoryview(data).cast("B")
        size = len(view)
        self._written += size
        while view:
            if self._filled == CHUNK:  # a full chunk, and more follows: it is not the last
                self._seal(self._plain, last=False)
                self._filled = 0
            if not self._filled and len(view) > CHUNK:  # seal straight from the caller's bytes
                self._seal(view[:CHUNK], last=False)
                view = view[CHUNK:]
                continue
            take = min(CHUNK - self._filled, len(view))
            self._plain[self._filled : self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
        return size

    def flush(self) -> None:
        """Flush ``dst`` (a partial chunk stays buffered until more data or :meth:`close`)."""
        self._dst.flush()

    def close(self) -> None:
        """Seal the last chunk; the age file is complete. Idempotent; ``dst`` stays open."""
        if self.closed:
            return
        self.closed = True
        self._seal(self._plain[: self._filled], last=True)


class Decryptor(io.RawIOBase):
    """A read-only stream of the plaintext of an age payload read from ``reader``.

    Each chunk is authenticated before any of its bytes is served. Any alteration,
    truncation, or data after the last chunk raises :class:`PayloadError` (again on every
    later read); bytes served before that came from chunks that verified, so on an error
    the caller must still discard everything read so far.
    """

    def __init__(self, reader: Reader, file_key: bytes):
        super().__init__()
        nonce = bytearray(NONCE)
        if reader.readinto_full(memoryview(nonce)) < NONCE:
            raise HeaderError("age file ends before the payload nonce", hint=_HINT)
        self._reader = reader
        self._aead = _payload_cipher(file_key, bytes(nonce))
        self._nonces = _Nonces()
        full = CHUNK + TAG
        self._sealed = (memoryview(bytearray(full)), memoryview(bytearray(full)))
        self._current = 0
        self._size: int | None = None  # bytes in the current sealed buffer; None: not read yet
        self._plain = memoryview(bytearray(CHUNK))
        self._start = self._end = 0
        self._done = False
        self._error: PayloadError | None = None

    def readable(self) -> bool:
        """Always true: this is a read-only stream."""
        return True

    def _open_next_chunk(self) -> None:
        """Authenticate and decrypt the next chunk into the plaintext buffer."""
        full = CHUNK + TAG
        if self._size is None:
            self._size = self._reader.readinto_full(self._sealed[0])
            if not self._size:
                raise PayloadError("age payload has no chunk at all", hint=_HINT)
        size, counter = self._size, self._nonces.counter
        following = self._reader.readinto_full(self._sealed[1 - self._current]) if size == full else 0
        if size < TAG:
            raise PayloadError(f"age payload chunk {counter} is truncated", hint=_HINT)
        plain = size - TAG
        if not following and not plain and counter:
            raise PayloadError("age payload ends with an empty final chunk", hint=_HINT)
        try:
            self._aead.decrypt_into(self._nonces.next(last=not following),
                                    self._sealed[self._current][:size], None, self._plain[:plain])
        except InvalidTag:
            self._end = 0  # whatever the cipher wrote there is never served
            raise PayloadError(f"age payload chunk {counter} failed authentication"
                               + (" (or the final chunk is missing)" if not following else ""),
                               hint=_HINT) from None
        self._start, self._end = 0, plain
        self._done = not following
        self._current, self._size = 1 - self._current, following

    def readinto(self, buffer) -> int:
        """Fill ``buffer`` with verified plaintext; 0 at the end of the file."""
        if self._error is not None:
            raise self._error
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if self._start == self._end:
                if self._done:
                    break
                try:
                    self._open_next_chunk()
                except PayloadError as exc:
                    self._error = exc
                    if filled:
                        return filled  # verified bytes first; the error comes with the next read
                    raise
                continue
            take = min(len(view) - filled, self._end - self._start)
            view[filled : filled + take] = self._plain[self._start : self._start + take]
            self._start += take
            filled += take
        return filled
