"""Tampering with each part of a small age file gives the right error class."""

from __future__ import annotations

import io

import pytest

from exchange.crypto import age

CHUNK = 64 * 1024
IDENTITY = age.generate_identity(post_quantum=False)
PLAIN = bytes(range(256)) * (2 * CHUNK // 256) + b"tail" * 25  # 2 full chunks + 100 bytes


def _seal() -> tuple[bytes, int]:
    out = io.BytesIO()
    with age.encryptor(out, [age.to_recipient(IDENTITY)]) as sealed:
        sealed.write(PLAIN)
    data = out.getvalue()
    return data, data.index(b"\n---") + len("\n--- ") + 43 + 1


SEALED, HEADER_END = _seal()
NONCE_END = HEADER_END + 16
CHUNK_CT = CHUNK + 16
CHUNKS = [NONCE_END, NONCE_END + CHUNK_CT, NONCE_END + 2 * CHUNK_CT, len(SEALED)]


def _decrypt(data: bytes) -> bytes:
    return age.decryptor(io.BytesIO(data), [IDENTITY]).read()


def _swap_b64_char(data: bytes, pos: int) -> bytes:
    char = data[pos : pos + 1]
    return data[:pos] + (b"B" if char != b"B" else b"C") + data[pos + 1 :]


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def test_untouched_file_decrypts() -> None:
    assert _decrypt(SEALED) == PLAIN


LINES = SEALED[:HEADER_END].split(b"\n")
SHARE_POS = len(LINES[0]) + 1 + len("-> X25519 ") + 10
BODY_POS = len(LINES[0]) + 1 + len(LINES[1]) + 1 + 10
MAC_POS = HEADER_END - 1 - 20
CHUNK_ORDER = SEALED[: CHUNKS[0]] + SEALED[CHUNKS[1] : CHUNKS[2]] + SEALED[CHUNKS[0] : CHUNKS[1]]

CASES = {
    "version line": (_flip(SEALED, 3), age.HeaderError),
    "stanza argument": (_swap_b64_char(SEALED, SHARE_POS), age.NoIdentityMatchedError),
    "stanza body": (_swap_b64_char(SEALED, BODY_POS), age.NoIdentityMatchedError),
    "stanza type": (_flip(SEALED, len(LINES[0]) + 4), age.NoIdentityMatchedError),
    "MAC": (_swap_b64_char(SEALED, MAC_POS), age.HeaderMacError),
    "MAC line prefix": (_flip(SEALED, HEADER_END - 45), age.HeaderError),
    "payload nonce": (_flip(SEALED, HEADER_END + 3), age.PayloadError),
    "first chunk": (_flip(SEALED, CHUNKS[0] + 100), age.PayloadError),
    "second chunk": (_flip(SEALED, CHUNKS[1] + 100), age.PayloadError),
    "final chunk": (_flip(SEALED, CHUNKS[2] + 5), age.PayloadError),
    "final tag": (_flip(SEALED, len(SEALED) - 1), age.PayloadError),
    "truncated by one byte": (SEALED[:-1], age.PayloadError),
    "final chunk dropped": (SEALED[: CHUNKS[2]], age.PayloadError),
    "truncated in header": (SEALED[: HEADER_END - 10], age.HeaderError),
    "truncated in nonce": (SEALED[: HEADER_END + 8], age.HeaderError),
    "extended by one byte": (SEALED + b"\0", age.PayloadError),
    "final chunk repeated": (SEALED + SEALED[CHUNKS[2] :], age.PayloadError),
    "chunks reordered": (CHUNK_ORDER + SEALED[CHUNKS[2] :], age.PayloadError),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tamper(case: str) -> None:
    data, expected = CASES[case]
    with pytest.raises(expected) as caught:
        _decrypt(data)
    assert type(caught.value) is expected
    assert IDENTITY not in str(caught.value)


def test_every_header_byte_is_protected() -> None:
    allowed = (age.HeaderError, age.NoIdentityMatchedError, age.HeaderMacError)
    for pos in range(HEADER_END):
        with pytest.raises(allowed):
            _decrypt(_flip(SEALED, pos))


def test_payload_bytes_are_protected() -> None:
    for pos in range(HEADER_END, len(SEALED), 997):
        with pytest.raises(age.PayloadError):
            _decrypt(_flip(SEALED, pos))


def test_armored_tampering() -> None:
    out = io.BytesIO()
    with age.ArmoredWriter(out) as writer:
        with age.encryptor(writer, [age.to_recipient(IDENTITY)]) as sealed:
            sealed.write(b"hello")
    text = out.getvalue()
    assert _decrypt(text) == b"hello"
    with pytest.raises(age.ArmorError):
        _decrypt(text.replace(b"\n", b" \n", 2))
    with pytest.raises(age.ArmorError):
        _decrypt(b"junk" + text)
    with pytest.raises(age.ArmorError):
        _decrypt(text + b"junk")
