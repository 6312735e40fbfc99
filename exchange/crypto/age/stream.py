"""The STREAM payload: 64 KiB ChaCha20-Poly1305 chunks, counter nonces, a final-chunk flag.

Both loops reuse one cipher object, two read buffers (one chunk of look-ahead to
know which chunk is last), one output buffer and one nonce buffer, so memory
stays constant whatever the file size.
"""

from __future__ import annotations

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


def encrypt_payload(src: BinaryIO, dst: BinaryIO, file_key: bytes) -> None:
    """Write the payload nonce and every encrypted chunk of ``src`` to ``dst``."""
    nonce = os.urandom(NONCE)
    dst.write(nonce)
    aead = _payload_cipher(file_key, nonce)
    reader = Reader(src)
    views = (memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK)))
    out = memoryview(bytearray(CHUNK + TAG))
    chunk_nonce = bytearray(12)
    counter = cur = 0
    size = reader.readinto_full(views[0])
    while True:
        following = reader.readinto_full(views[1 - cur]) if size == CHUNK else 0
        chunk_nonce[:11] = counter.to_bytes(11, "big")
        if not following:
            chunk_nonce[11] = 1
        sealed = out[: size + TAG]
        aead.encrypt_into(chunk_nonce, views[cur][:size], None, sealed)
        dst.write(sealed)
        if not following:
            return
        counter += 1
        cur = 1 - cur
        size = following


def decrypt_payload(reader: Reader, dst: BinaryIO, file_key: bytes) -> None:
    """Verify and decrypt the payload chunk by chunk, writing each verified chunk to ``dst``.

    Raises :class:`PayloadError` on a bad tag, a missing or empty final chunk,
    truncation or data after the final chunk.
    """
    nonce = bytearray(NONCE)
    if reader.readinto_full(memoryview(nonce)) < NONCE:
        raise HeaderError("age file ends before the payload nonce", hint=_HINT)
    aead = _payload_cipher(file_key, bytes(nonce))
    full = CHUNK + TAG
    views = (memoryview(bytearray(full)), memoryview(bytearray(full)))
    out = memoryview(bytearray(CHUNK))
    chunk_nonce = bytearray(12)
    counter = cur = 0
    size = reader.readinto_full(views[0])
    if not size:
        raise PayloadError("age payload has no chunk at all", hint=_HINT)
    while True:
        following = reader.readinto_full(views[1 - cur]) if size == full else 0
        if size < TAG:
            raise PayloadError(f"age payload chunk {counter} is truncated", hint=_HINT)
        plain = size - TAG
        if not following and not plain and counter:
            raise PayloadError("age payload ends with an empty final chunk", hint=_HINT)
        chunk_nonce[:11] = counter.to_bytes(11, "big")
        if not following:
            chunk_nonce[11] = 1
        try:
            aead.decrypt_into(chunk_nonce, views[cur][:size], None, out[:plain])
        except InvalidTag:
            raise PayloadError(
                f"age payload chunk {counter} failed authentication"
                + (" (or the final chunk is missing)" if not following else ""),
                hint=_HINT,
            ) from None
        dst.write(out[:plain])
        if not following:
            return
        counter += 1
        cur = 1 - cur
        size = following
