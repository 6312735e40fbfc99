"""Faults and bad input against a real SeaweedFS: each ends typed, quarantined, audited, answered.

Every fault is injected at an exact point (a wrapped store method kills the real server
before its call), never by racing a kill against a transfer.
"""

from __future__ import annotations

import json

import pytest

from exchange.errors import AccessDenied, StoreUnavailable
from exchange.protocol.inbound import ExchangeRejected, discover, receive
from exchange.protocol.naming import receipt_key
from exchange.protocol.outbound import publish
from exchange.storage.s3 import Store
from tests.conftest import start_seaweed
from tests.support.protocol import dataset, make_nodes

CONTRACT = "children_on_the_move.khm-tha"


PERIODS = (f"{year}-{month:02d}" for year in range(2010, 2030) for month in range(1, 13))


@pytest.fixture
def published(nodes, tmp_path):
    """A fresh exchange in its own period, one per test."""
    period = next(PERIODS)
    return publish(nodes["KHM"], dataset(CONTRACT, tmp_path, period=period), CONTRACT, period)


def tamper(seaweed, bucket, key, change):
    admin = seaweed.client()
    body = admin.get_object(Bucket=bucket, Key=key)["Body"].read()
    admin.put_object(Bucket=bucket, Key=key, Body=change(body))


def flip(offset):
    def change(body: bytes) -> bytes:
        data = bytearray(body)
        data[offset % len(data)] ^= 0x01
        return bytes(data)
    return change


def landing(node, sender, result):
    return node.home / "landing" / sender / result.prefix


def assert_rejected(nodes, seaweed, result, words):
    tha, khm = nodes["THA"], nodes["KHM"]
    with pytest.raises(ExchangeRejected) as err:
        receive(tha, "KHM", result.prefix)
    assert words in str(err.value), str(err.value)
    folder = tha.home / "quarantine" / result.exchange_id
    assert words in json.loads((folder / "reason.json").read_text())["reason"]
    assert not landing(tha, "KHM", result).exists()
    events = [json.loads(line) for line in (tha.home / "audit" / "THA.audit.jsonl").read_text().splitlines()]
    assert any(e["event"] == "reject" and e.get("exchange_id") == result.exchange_id for e in events)
    receipt = json.loads(khm.store.get_bytes("tha-to-khm", receipt_key(*result.prefix.split("/")), 1 << 20))
    assert receipt["status"] == "rejected" and words in receipt["reason"]


@pytest.mark.parametrize("offset", [10, 300, -20])
def test_bit_flip_in_ciphertext(nodes, seaweed, published, offset):
    tamper(seaweed, "khm-to-tha", f"{published.prefix}/data.parquet.age", flip(offset))
    assert_rejected(nodes, seaweed, published, "")


def test_bit_flip_in_manifest(nodes, seaweed, published):
    tamper(seaweed, "khm-to-tha", f"{published.prefix}/manifest.json", flip(40))
    assert_rejected(nodes, seaweed, published, "signature")


def test_bit_flip_in_signature(nodes, seaweed, published):
    def change(body: bytes) -> bytes:
        lines = body.split(b"\n")
        lines[1] = (b"B" if lines[1][10:11] == b"A" else b"A").join([lines[1][:10], lines[1][11:]])
        return b"\n".join(lines)

    tamper(seaweed, "khm-to-tha", f"{published.prefix}/manifest.json.minisig", change)
    assert_rejected(nodes, seaweed, published, "signature")


def test_truncated_object(nodes, seaweed, published):
    tamper(seaweed, "khm-to-tha", f"{published.prefix}/data.parquet.age", lambda b: b[: len(b) // 2])
    assert_rejected(nodes, seaweed, published, "")


def test_manifest_hashes_that_do_not_match(nodes, seaweed, published):
    body = nodes["KHM"].store.get_bytes("khm-to-tha", f"{published.prefix}/manifest.json", 1 << 20)
    manifest = json.loads(body)
    manifest["plaintext"]["sha256"] = "0" * 64
    forged = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    key = nodes["KHM"].identity.signing_key
    from exchange.protocol.manifest import Manifest
    comment = Manifest.from_json(forged, "test").comment()
    seaweed.client().put_object(Bucket="khm-to-tha", Key=f"{published.prefix}/manifest.json", Body=forged)
    seaweed.client().put_object(Bucket="khm-to-tha", Key=f"{published.prefix}/manifest.json.minisig",
                                Body=key.sign(forged, comment))
    assert_rejected(nodes, seaweed, published, "plaintext SHA-256")


def test_signed_by_the_wrong_party(nodes, seaweed, published):
    body = nodes["KHM"].store.get_bytes("khm-to-tha", f"{published.prefix}/manifest.json", 1 << 20)
    from exchange.protocol.manifest import Manifest
    forged_sig = nodes["THA"].identity.signing_key.sign(body, Manifest.from_json(body, "t").comment())
    seaweed.client().put_object(Bucket="khm-to-tha", Key=f"{published.prefix}/manifest.json.minisig",
                                Body=forged_sig)
    assert_rejected(nodes, seaweed, published, "key")


def test_manifest_copied_to_another_prefix(nodes, seaweed, published, tmp_path):
    admin = seaweed.client()
    target = published.prefix.rsplit("/", 1)[0] + "/" + "f" * 32
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        admin.copy_object(Bucket="khm-to-tha", Key=f"{target}/{name}",
                          CopySource={"Bucket": "khm-to-tha", "Key": f"{published.prefix}/{name}"})
    tha = nodes["THA"]
    with pytest.raises(ExchangeRejected) as err:
        receive(tha, "KHM", target)
    assert "manifest exchange_id is" in str(err.value)


def test_exchange_for_another_party(nodes, seaweed, tmp_path):
    """KHM's exchange for MYS is copied into the THA bucket: THA must refuse it."""
    from exchange.devkit.bootstrap import provision  # noqa: F401 - provisioning happens in make_nodes
    src = dataset("workers_deployed.khm-mys", tmp_path, period="2026-05")
    nodes3 = make_nodes(seaweed, tmp_path / "three", parties=("KHM", "MYS"))
    result = publish(nodes3["KHM"], src, "workers_deployed.khm-mys", "2026-05")
    admin = seaweed.client()
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        admin.copy_object(Bucket="khm-to-tha", Key=f"{result.prefix}/{name}",
                          CopySource={"Bucket": "khm-to-mys", "Key": f"{result.prefix}/{name}"})
    with pytest.raises(ExchangeRejected):
        receive(nodes["THA"], "KHM", result.prefix)


def test_partner_credentials_on_the_wrong_bucket(nodes):
    with pytest.raises(AccessDenied):
        nodes["THA"].store.get_bytes("khm-to-mys", "anything", 1 << 20)
    with pytest.raises(AccessDenied):
        nodes["THA"].store.put_bytes("khm-to-tha", "x/y/z/manifest.json", b"{}")


class KillOnDownload(Store):
    """A real store that kills the real server just before the data download starts
    (after the manifest and signature were fetched and verified)."""

    def __init__(self, client, server):
        super().__init__(client)
        self.server = server

    def open_ranged(self, bucket, key):
        self.server.kill()
        return super().open_ranged(bucket, key)


class KillOnFirstPart:
    """A publish progress callback that kills the server once the data is uploaded,
    so that writing the manifest is the first call to fail."""

    def __init__(self, server):
        self.server, self.calls = server, 0

    def __call__(self, size):
        self.calls += 1
        self.server.kill()


def test_server_killed_mid_publish_and_mid_pull(tmp_path):
    server = start_seaweed(tmp_path / "s3")
    try:
        nodes = make_nodes(server, tmp_path / "parties")
        khm, tha = nodes["KHM"], nodes["THA"]
        src = dataset(CONTRACT, tmp_path, period="2026-04")
        with pytest.raises(StoreUnavailable):
            publish(khm, src, CONTRACT, "2026-04", progress=(kill := KillOnFirstPart(server)))
        assert kill.calls == 1
        server.start()
        assert discover(tha, "KHM") == []
        result = publish(khm, src, CONTRACT, "2026-04")
        tha.store = KillOnDownload(server.client("THA"), server)
        with pytest.raises(StoreUnavailable):
            receive(tha, "KHM", result.prefix)
        assert not landing(tha, "KHM", result).exists()
        assert not list((tha.home / "landing" / ".staging").iterdir())
        server.start()
        tha.store = Store(server.client("THA"))
        assert receive(tha, "KHM", result.prefix).status == "landed"
    finally:
        server.stop()


def test_receipt_that_could_not_be_sent_goes_out_on_the_next_pull(tmp_path):
    server = start_seaweed(tmp_path / "s3")
    try:
        nodes = make_nodes(server, tmp_path / "parties")
        khm, tha = nodes["KHM"], nodes["THA"]
        result = publish(khm, dataset(CONTRACT, tmp_path, period="2026-03"), CONTRACT, "2026-03")

        class KillBeforeReceipt(Store):
            def put_if_absent(self, bucket, key, data):
                server.kill()
                return super().put_if_absent(bucket, key, data)

        tha.store = KillBeforeReceipt(server.client("THA"))
        with pytest.raises(StoreUnavailable):
            receive(tha, "KHM", result.prefix)
        assert (landing(tha, "KHM", result) / "data.parquet").exists()
        server.start()
        tha.store = Store(server.client("THA"))
        assert discover(tha, "KHM") == [result.prefix]
        assert receive(tha, "KHM", result.prefix).status == "skipped"
        assert discover(tha, "KHM") == []
        receipt = khm.store.get_bytes("tha-to-khm", receipt_key(*result.prefix.split("/")), 1 << 20)
        assert json.loads(receipt)["status"] == "accepted"
    finally:
        server.stop()
