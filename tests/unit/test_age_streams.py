"""The stream API: encryptor() is a writer, decryptor() a reader that never releases a bad chunk."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.crypto import age

CHUNK = 64 * 1024
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5]
IDENTITY = age.generate_identity(post_quantum=False)
RECIPIENT = age.to_recipient(IDENTITY)


def _plain(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def _seal(plain: bytes, piece: int | None = None) -> bytes:
    """Encrypt ``plain`` written in pieces of ``piece`` bytes (None: one write)."""
    out = io.BytesIO()
    with age.encryptor(out, [RECIPIENT]) as sealed:
        step = piece or max(len(plain), 1)
        for start in range(0, len(plain), step):
            sealed.write(plain[start : start + step])
        assert sealed.tell() == len(plain)
    return out.getvalue()


def _payload_start(sealed: bytes) -> int:
    """Offset of the first chunk (after the header and the 16-byte payload nonce)."""
    return sealed.index(b"\n---") + len("\n--- ") + 43 + 1 + 16


def _read_in(reader, piece: int) -> bytes:
    parts = []
    while part := reader.read(piece):
        parts.append(part)
    return b"".join(parts)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", [None, 1000, CHUNK, CHUNK + 1])
def test_round_trip_across_chunk_boundaries(size: int, piece: int | None) -> None:
    plain = _plain(size)
    sealed = _seal(plain, piece)
    chunks = max(1, -(-size // CHUNK))
    assert len(sealed) - _payload_start(sealed) == size + 16 * chunks
    assert age.decryptor(io.BytesIO(sealed), [IDENTITY]).read() == plain
    assert _read_in(age.decryptor(io.BytesIO(sealed), [IDENTITY]), 7000) == plain


@pytest.mark.parametrize("size", [CHUNK - 1, CHUNK, CHUNK + 1])
def test_byte_by_byte_reads_and_writes(size: int) -> None:
    plain = _plain(size)
    out = io.BytesIO()
    with age.encryptor(out, [RECIPIENT]) as sealed:
        for byte in plain:
            sealed.write(bytes([byte]))
    reader = age.decryptor(io.BytesIO(out.getvalue()), [IDENTITY])
    assert b"".join(iter(lambda: reader.read(1), b"")) == plain


def test_empty_file_has_one_empty_chunk() -> None:
    sealed = _seal(b"")
    assert len(sealed) - _payload_start(sealed) == 16
    assert age.decryptor(io.BytesIO(sealed), [IDENTITY]).read() == b""


@pytest.mark.parametrize("cut", [1, 16, CHUNK + 16, CHUNK + 17, 2 * (CHUNK + 16)])
def test_truncation_is_rejected_after_only_verified_chunks(cut: int) -> None:
    plain = _plain(3 * CHUNK + 5)
    sealed = _seal(plain)
    reader = age.decryptor(io.BytesIO(sealed[: len(sealed) - cut]), [IDENTITY])
    served = b""
    with pytest.raises(age.PayloadError):
        while part := reader.read(4096):
            served += part
    assert len(served) % CHUNK == 0 and plain.startswith(served)


@pytest.mark.parametrize("chunk", [0, 1, 3])
def test_no_plaintext_of_a_tampered_chunk_is_released(chunk: int) -> None:
    plain = _plain(3 * CHUNK + 5)
    sealed = bytearray(_seal(plain))
    sealed[_payload_start(bytes(sealed)) + chunk * (CHUNK + 16) + 3] ^= 0x01
    reader = age.decryptor(io.BytesIO(bytes(sealed)), [IDENTITY])
    buffer = bytearray(b"\xaa" * (4 * CHUNK))
    served = 0
    with pytest.raises(age.PayloadError):
        while got := reader.readinto(memoryview(buffer)[served:]):
            served += got
    assert served == chunk * CHUNK
    assert buffer[:served] == plain[:served]
    assert buffer[served:] == b"\xaa" * (4 * CHUNK - served)  # nothing of the bad chunk, not even a byte
    with pytest.raises(age.PayloadError):  # and the error stays
        reader.read(1)


def test_data_after_the_last_chunk_is_rejected() -> None:
    sealed = _seal(_plain(CHUNK))
    with pytest.raises(age.PayloadError):
        age.decryptor(io.BytesIO(sealed + b"\0"), [IDENTITY]).read()


def test_header_problems_are_raised_when_opening() -> None:
    sealed = _seal(b"hello")
    with pytest.raises(age.NoIdentityMatchedError):
        age.decryptor(io.BytesIO(sealed), [age.generate_identity(post_quantum=False)])
    with pytest.raises(age.HeaderError):
        age.decryptor(io.BytesIO(b"not an age file\n"), [IDENTITY])


def test_an_error_inside_the_block_leaves_no_valid_file() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), age.encryptor(out, [RECIPIENT]) as sealed:
        sealed.write(b"the first half")
        raise RuntimeError("the producer failed")
    with pytest.raises(age.PayloadError):
        age.decryptor(io.BytesIO(out.getvalue()), [IDENTITY]).read()
    with pytest.raises(ValueError, match="closed"):
        sealed.write(b"more")


def test_close_finishes_once_and_keeps_dst_open() -> None:
    out = io.BytesIO()
    sealed = age.encryptor(out, [RECIPIENT])
    sealed.write(b"data")
    sealed.close()
    sealed.close()
    assert not out.closed
    assert age.decryptor(io.BytesIO(out.getvalue()), [IDENTITY]).read() == b"data"


def test_arrow_writes_parquet_straight_into_the_encryptor() -> None:
    table = pa.table({"n": list(range(50_000)), "s": [str(i % 97) for i in range(50_000)]})
    out = io.BytesIO()
    with age.encryptor(out, [RECIPIENT]) as sealed:
        pq.write_table(table, sealed, row_group_size=10_000)
    plain = age.decryptor(io.BytesIO(out.getvalue()), [IDENTITY]).read()
    assert pq.read_table(io.BytesIO(plain)).equals(table)
