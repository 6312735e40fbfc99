"""Stream adapters of the pipelines: hashing writer and reader, the bounded copy."""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.storage.streams import HashingReader, HashingWriter, copy_at_most, file_sha256


class CountingSource(io.BytesIO):
    """A source that records how many bytes were read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, n: int = -1) -> bytes:
        data = super().read(n)
        self.taken += len(data)
        return data


@pytest.mark.parametrize("size", [0, 1, 999, 1000])
def test_copy_at_most_copies_what_fits(size: int) -> None:
    data = bytes(range(256)) * 4
    data = data[:size]
    out, seen = io.BytesIO(), []
    assert copy_at_most(io.BytesIO(data), out, 1000, seen.append, block=300)
    assert out.getvalue() == data and sum(seen) == size


@pytest.mark.parametrize("size", [1001, 5000, 10**6])
def test_copy_at_most_stops_one_byte_past_the_limit(size: int) -> None:
    source, out = CountingSource(b"x" * size), io.BytesIO()
    assert not copy_at_most(source, out, 1000, block=256)
    assert source.taken == 1001 and len(out.getvalue()) <= 1000


def test_hashing_writer_and_reader_count_and_hash() -> None:
    data = b"abc" * 100_000
    out = io.BytesIO()
    writer = HashingWriter(out)
    for start in range(0, len(data), 7777):
        writer.write(data[start : start + 7777])
    assert (writer.size, writer.tell(), writer.hash.hexdigest()) == \
        (len(data), len(data), hashlib.sha256(data).hexdigest())
    assert out.getvalue() == data and not writer.closed
    seen: list[int] = []
    reader = HashingReader(io.BytesIO(data), seen.append)
    buffer = bytearray(5000)
    while reader.readinto(buffer):
        pass
    assert (reader.size, reader.hash.hexdigest(), sum(seen)) == (len(data), hashlib.sha256(data).hexdigest(),
                                                                 len(data))


def test_arrow_writes_parquet_into_a_hashing_writer(tmp_path) -> None:
    table = pa.table({"n": list(range(10_000))})
    out = io.BytesIO()
    writer = HashingWriter(out)
    pq.write_table(table, writer)
    path = tmp_path / "t.parquet"
    path.write_bytes(out.getvalue())
    assert pq.read_table(path).equals(table)
    assert file_sha256(path) == writer.hash.hexdigest()
