"""The S3 store against a real SeaweedFS: streaming, create-only, access rules, faults."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid

import pytest

from exchange.devkit.seaweed import Credentials
from exchange.errors import AccessDenied, NotFound, StoreUnavailable
from exchange.protocol.naming import list_exchanges, scan_exchanges
from exchange.storage.s3 import Store
from tests.conftest import start_seaweed

MB = 1024 * 1024


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_small_round_trip_and_hash(stores):
    data = os.urandom(100_000)
    sent = stores["KHM"].upload("khm-to-tha", f"{unique()}/x", io.BytesIO(data))
    assert sent.size == len(data) and sent.sha256 == hashlib.sha256(data).hexdigest()


def test_multipart_round_trip_with_progress(stores):
    data = os.urandom(11 * MB + 123)
    key = f"{unique()}/multi"
    seen: list[int] = []
    sent = stores["KHM"].upload("khm-to-tha", key, io.BytesIO(data), part_size=5 * MB,
                                progress=seen.append)
    assert sum(seen) == len(data) and len(seen) == 3
    out = io.BytesIO()
    got = stores["THA"].download("khm-to-tha", key, out)
    assert out.getvalue() == data and got.sha256 == sent.sha256


UPLOAD_SCRIPT = """
import json, sys
from exchange.devkit.seaweed import SeaweedServer
from exchange.storage.s3 import Store
import boto3
from exchange.storage.s3 import client_config
endpoint, access, secret, path, key = sys.argv[1:]
client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                      aws_secret_access_key=secret, region_name="us-east-1", config=client_config())
with open(path, "rb") as src:
    sent = Store(client).upload("khm-to-tha", key, src)
# VmHWM is this process's own high-water mark; ru_maxrss would include the parent's
# RSS at fork time, which exec does not reset.
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"sha256": sent.sha256, "size": sent.size, "peak_rss_mb": hwm_kb / 1024}))
"""


@pytest.mark.slow
def test_200mb_upload_streams_in_bounded_memory(seaweed, stores, tmp_path):
    path = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with path.open("wb") as f:
        block = os.urandom(MB)
        for i in range(200):
            chunk = block[i:] + block[:i]
            digest.update(chunk)
            f.write(chunk)
    key = f"{unique()}/big"
    cred = seaweed.credentials["KHM"]
    out = subprocess.run(
        [sys.executable, "-c", UPLOAD_SCRIPT, seaweed.endpoint, cred.access_key_id,
         cred.secret_access_key, str(path), key],
        capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["sha256"] == digest.hexdigest() and result["size"] == 200 * MB
    print("peak RSS of the 200 MB upload:", round(result["peak_rss_mb"]), "MB")
    assert result["peak_rss_mb"] < 150, result
    down = hashlib.sha256()

    class Sink:
        def write(self, b):
            down.update(b)

    got = stores["THA"].download("khm-to-tha", key, Sink())
    assert got.sha256 == down.hexdigest() == digest.hexdigest()


def test_create_only_does_not_overwrite(stores):
    key = f"{unique()}/manifest.json"
    assert stores["KHM"].put_if_absent("khm-to-tha", key, b"first") is True
    assert stores["KHM"].put_if_absent("khm-to-tha", key, b"second") is False
    assert stores["THA"].get_bytes("khm-to-tha", key, 1 << 20) == b"first"


def test_partner_cannot_write_senders_bucket(stores):
    with pytest.raises(AccessDenied) as err:
        stores["THA"].put_bytes("khm-to-tha", f"{unique()}/x", b"forged")
    assert "khm-to-tha" in str(err.value) and "credentials" in str(err.value)


def test_party_cannot_read_another_partners_bucket(stores):
    key = f"{unique()}/secret"
    stores["KHM"].put_bytes("khm-to-mys", key, b"for MYS only")
    with pytest.raises(AccessDenied):
        stores["THA"].get_bytes("khm-to-mys", key, 1 << 20)
    with pytest.raises(AccessDenied):
        list(stores["THA"].list_keys("khm-to-mys"))


def test_bad_credentials_are_refused(seaweed):
    seaweed.credentials["NOBODY"] = Credentials("nobody", "wrong-secret-0000")
    try:
        bad = Store(seaweed.client("NOBODY"))
        with pytest.raises(AccessDenied) as err:
            bad.get_bytes("khm-to-tha", "anything", 1 << 20)
        assert "wrong-secret" not in str(err.value)
    finally:
        del seaweed.credentials["NOBODY"]


def test_missing_object_is_not_found(stores):
    with pytest.raises(NotFound) as err:
        stores["THA"].get_bytes("khm-to-tha", "no/such/key", 1 << 20)
    assert "s3://khm-to-tha/no/such/key" in str(err.value)


def test_listing_shows_only_signed_exchanges(stores):
    dataset, aaa, bbb = unique("ds").replace("-", "_"), "a" * 32, "b" * 32
    store = stores["KHM"]
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/{aaa}/data.parquet.age", b"x")
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/{aaa}/manifest.json", b"{}")
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/{bbb}/data.parquet.age", b"x")
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/{bbb}/manifest.json", b"{}")
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/{bbb}/manifest.json.minisig", b"sig")
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/ccc/manifest.json", b"{}")
    store.put_bytes("khm-to-tha", f"{dataset}/2026-01/ccc/manifest.json.minisig", b"sig")
    refs = list_exchanges(stores["THA"], "khm-to-tha", f"{dataset}/")
    assert [(r.dataset, r.period, r.exchange_id) for r in refs] == [(dataset, "2026-01", bbb)]
    assert scan_exchanges(stores["THA"], "khm-to-tha", f"{dataset}/").ignored == [
        f"{dataset}/2026-01/ccc/manifest.json", f"{dataset}/2026-01/ccc/manifest.json.minisig"]


class KillingSource(io.RawIOBase):
    """Yields data, and kills the server after ``kill_after`` bytes."""

    def __init__(self, server, size, kill_after):
        self.server, self.left, self.kill_after, self.sent = server, size, kill_after, 0

    def readable(self):
        return True

    def read(self, n=-1):
        if self.sent >= self.kill_after and self.server.process is not None:
            self.server.kill()
        n = min(n if n > 0 else self.left, self.left)
        self.left -= n
        self.sent += n
        return b"\x07" * n


def test_server_killed_mid_upload_is_transient_and_retry_succeeds(tmp_path):
    server = start_seaweed(tmp_path / "fault")
    try:
        store = Store(server.client("KHM"))
        key = "ds/2026-01/xyz/data.parquet.age"
        with pytest.raises(StoreUnavailable) as err:
            store.upload("khm-to-tha", key, KillingSource(server, 15 * MB, 6 * MB), part_size=5 * MB)
        assert "retry" in str(err.value)
        server.start()
        sent = store.upload("khm-to-tha", key, io.BytesIO(b"\x07" * 15 * MB), part_size=5 * MB)
        assert sent.size == 15 * MB
        assert list_exchanges(Store(server.client("THA")), "khm-to-tha") == []
    finally:
        server.stop()


def test_ranged_reader_serves_the_object_in_order(stores):
    from exchange.storage.transfer import RangedReader

    data = os.urandom(RangedReader.RANGE * 2 + 12345)
    key = f"{unique()}/ranged"
    stores["KHM"].upload("khm-to-tha", key, io.BytesIO(data))
    with stores["THA"].open_ranged("khm-to-tha", key) as reader:
        pieces = iter(lambda: reader.read(65552), b"")
        assert b"".join(pieces) == data
    with stores["THA"].open_ranged("khm-to-tha", key) as reader:
        assert reader.read() == data
