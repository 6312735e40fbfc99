"""The Store's semantics on the in-memory S3, and streaming transfers (twins of
tests/integration/test_store.py for what does not need the real server).

``MemoryStore`` runs the real ``Store``, ``MultipartWriter`` and ``RangedReader`` code over a
fake boto3 client, so these tests pin what every protocol test relies on: bounded reads,
create-only writes, uploads visible only when complete, typed errors with their fields.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from exchange.errors import (
    AccessDenied,
    NotFound,
    ObjectNotFound,
    ObjectTooLarge,
    StoreError,
    StoreUnavailable,
    TerminalError,
)
from exchange.protocol.naming import list_exchanges
from exchange.storage.streams import HashingReader, HashingWriter
from exchange.storage.transfer import MIN_PART_SIZE, RangedReader
from tests.support.memory_store import MemoryStore

BUCKET = "khm-to-tha"


@pytest.fixture
def admin() -> MemoryStore:
    return MemoryStore([BUCKET, "tha-to-khm", "khm-to-mys"])


def test_small_round_trip(admin):
    admin.put_bytes(BUCKET, "a/b", b"hello")
    assert admin.get_bytes(BUCKET, "a/b", 5) == b"hello" and admin.exists(BUCKET, "a/b")
    assert not admin.exists(BUCKET, "a/c")


def test_get_bytes_reads_no_more_than_its_limit_plus_one(admin):
    admin.put_bytes(BUCKET, "big", b"x" * (4 << 20))
    admin.server.served = 0
    with pytest.raises(ObjectTooLarge) as err:
        admin.get_bytes(BUCKET, "big", 1000)
    assert admin.server.served == 1001
    assert (err.value.bucket, err.value.key, err.value.limit) == (BUCKET, "big", 1000) and err.value.hint


def test_bucket_key_only_flood_of_planted_keys_is_refused_past_the_listing_limit(admin, monkeypatch):
    from exchange.storage import s3

    monkeypatch.setattr(s3, "LISTED_MAX", 5)
    for n in range(5):
        admin.put_bytes(BUCKET, f"receipts/{n}.json", b"{}")
    assert len(list(admin.list_keys(BUCKET, "receipts/"))) == 5
    admin.put_bytes(BUCKET, "receipts/5.json", b"{}")
    with pytest.raises(ObjectTooLarge) as err:
        list(admin.list_keys(BUCKET, "receipts/"))
    assert (err.value.bucket, err.value.key, err.value.limit) == (BUCKET, "receipts/", 5)
    assert "planted" in err.value.hint


def test_missing_object_is_not_found_with_its_fields(admin):
    with pytest.raises(ObjectNotFound) as err:
        admin.get_bytes(BUCKET, "nothing/here", 10)
    exc = err.value
    assert isinstance(exc, NotFound) and isinstance(exc, StoreError) and isinstance(exc, TerminalError)
    assert (exc.bucket, exc.key, exc.action, exc.where) == (BUCKET, "nothing/here", "open",
                                                             f"s3://{BUCKET}/nothing/here")
    assert "s3://khm-to-tha/nothing/here" in exc.message and exc.hint
    with pytest.raises(ObjectNotFound) as err:
        admin.get_bytes("no-bucket", "k", 10)
    assert err.value.bucket == "no-bucket"


def test_partner_may_read_but_not_write_the_senders_bucket(admin):
    tha = admin.as_party("THA")
    admin.put_bytes(BUCKET, "k", b"v")
    assert tha.get_bytes(BUCKET, "k", 1) == b"v"
    with pytest.raises(AccessDenied) as err:
        tha.put_bytes(BUCKET, "k", b"w")
    assert not err.value.transient and (err.value.bucket, err.value.key, err.value.action) == (BUCKET, "k", "write")
    with pytest.raises(AccessDenied):
        tha.get_bytes("khm-to-mys", "k", 1)  # another pair's bucket
    with pytest.raises(AccessDenied):
        list(tha.list_keys("khm-to-mys"))
    assert admin.get_bytes(BUCKET, "k", 1) == b"v"


def test_store_down_is_transient_and_a_store_error(admin):
    admin.server.down = True
    for action in (lambda: admin.get_bytes(BUCKET, "k", 1), lambda: admin.put_bytes(BUCKET, "k", b""),
                   lambda: list(admin.list_keys(BUCKET)), lambda: admin.put_if_absent(BUCKET, "k", b"")):
        with pytest.raises(StoreUnavailable) as err:
            action()
        assert err.value.transient and isinstance(err.value, StoreError) and err.value.bucket == BUCKET


def test_create_only_write_never_overwrites(admin):
    assert admin.put_if_absent(BUCKET, "k", b"first")
    assert not admin.put_if_absent(BUCKET, "k", b"second")
    assert admin.get_bytes(BUCKET, "k", 10) == b"first"


def test_listing_is_in_key_order_across_pages_and_only_signed_exchanges_count(admin):
    keys = [f"d/2026-10/{i:032x}/data.parquet.age" for i in range(1500)]
    for key in reversed(keys):
        admin.put_bytes(BUCKET, key, b"")
    assert list(admin.list_keys(BUCKET, "d/")) == sorted(keys)
    done = "d/2026-10/" + "f" * 32
    admin.put_bytes(BUCKET, f"{done}/manifest.json", b"{}")
    admin.put_bytes(BUCKET, f"{done}/manifest.json.minisig", b"")
    admin.put_bytes(BUCKET, f"d/2026-10/{'e' * 32}/manifest.json", b"{}")  # unsigned: not an exchange yet
    assert [r.prefix for r in list_exchanges(admin, BUCKET)] == [done]


def test_multipart_upload_is_visible_only_once_complete(admin):
    data = os.urandom(2 * MIN_PART_SIZE + 12345)
    seen = []
    with admin.writer(BUCKET, "big", part_size=MIN_PART_SIZE, progress=seen.append) as out:
        for start in range(0, len(data), 1 << 20):
            out.write(data[start:start + (1 << 20)])
        assert not admin.exists(BUCKET, "big")
    assert out.result.size == len(data) and out.result.sha256 == hashlib.sha256(data).hexdigest()
    assert sum(seen) == len(data) and admin.server.uploads == {}
    sink = io.BytesIO()
    assert admin.download(BUCKET, "big", sink).sha256 == out.result.sha256 and sink.getvalue() == data


def test_failed_upload_leaves_nothing_behind(admin):
    with pytest.raises(RuntimeError), admin.writer(BUCKET, "big", part_size=MIN_PART_SIZE) as out:
        out.write(b"x" * (MIN_PART_SIZE + 1))
        raise RuntimeError("the producer failed")
    assert not admin.exists(BUCKET, "big") and admin.server.uploads == {}


def test_ranged_reader_serves_the_object_in_order(admin, monkeypatch):
    monkeypatch.setattr(RangedReader, "RANGE", 64 * 1024)
    data = os.urandom(10 * 64 * 1024 + 7)
    admin.put_bytes(BUCKET, "obj", data)
    with admin.open_ranged(BUCKET, "obj") as stream:
        got = b"".join(iter(lambda: stream.read(50_000), b""))
    assert got == data


def test_upload_from_a_file_and_hashing_streams(admin):
    data = os.urandom(300_000)
    reader = HashingReader(io.BytesIO(data))
    assert admin.upload(BUCKET, "k", reader).sha256 == hashlib.sha256(data).hexdigest()
    assert (reader.size, reader.hash.hexdigest()) == (len(data), hashlib.sha256(data).hexdigest())
    sink = io.BytesIO()
    writer = HashingWriter(sink)
    admin.download(BUCKET, "k", writer)
    assert sink.getvalue() == data and writer.hash.hexdigest() == hashlib.sha256(data).hexdigest()
