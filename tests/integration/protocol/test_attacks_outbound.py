"""Attacks on and faults in the sending side, on a real SeaweedFS.

The sender trusts only what it signed itself: its own local record of an exchange, or a
manifest in the bucket whose signature verifies with its own key. Keys, keyring and
agreement are checked before anything leaves; a crash at any step is finished by a re-run
that records ``publish`` exactly once; what an exchange declares (period, areas) is what
its rows say, on both sides.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil

import pyarrow.parquet as pq
import pytest

from exchange.audit.log import AuditLog
from exchange.canonical import canonical_json
from exchange.clock import utc_now
from exchange.contract.model import load_contract
from exchange.crypto import age
from exchange.disclosure import protect
from exchange.errors import ProtocolError, StoreUnavailable, TerminalError
from exchange.protocol import outbound, sent
from exchange.protocol.inbound import ExchangeRejected, discover, pull, receive
from exchange.protocol.limits import MANIFEST_MAX
from exchange.protocol.manifest import recipient_key_id
from exchange.protocol.naming import DATA, MANIFEST, SIGNATURE, receipt_key
from exchange.protocol.node import Node
from exchange.protocol.outbound import ContractBreach, publish
from exchange.settings import load_settings
from exchange.storage.s3 import Store
from tests.support.protocol import dataset

CONTRACT = "children_on_the_move.khm-tha"
BUCKET = "khm-to-tha"


def events(node, event: str, **details) -> list[dict]:
    """The node's audit entries of ``event`` whose details include ``details``."""
    return [e for e in AuditLog.for_home(node.home, node.party).entries()
            if e["event"] == event and all(e.get(k) == v for k, v in details.items())]


def plant_exchange(attacker: Store, tha, period: str, tmp_path, exchange_id: str = "0" * 32,
                   revision: int = 1, sequence: int = 1) -> str:
    """With KHM's S3 credentials only: data encrypted to THA and an UNSIGNED manifest naming KHM.

    Everything the attacker needs is public: the contract, THA's age recipient, KHM's key id."""
    contract = load_contract(CONTRACT)
    table, report = protect(pq.read_table(dataset(CONTRACT, tmp_path, period=period, seed=666)),
                            contract.disclosure, linkage_key=os.urandom(32))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    plain = sink.getvalue()
    recipient = tha.public_keys("THA").age_recipient
    cipher = io.BytesIO()
    with age.encryptor(cipher, [recipient]) as sealed:
        sealed.write(plain)
    manifest = {  # the attacker writes any bytes it likes; these are the genuine shape
        "format": "gcmx-manifest/1", "exchange_id": exchange_id, "bucket": BUCKET, "sender": "KHM",
        "recipients": [{"party": "THA", "key_id": recipient_key_id(recipient), "type": "mlkem768x25519"}],
        "dataset": contract.dataset, "period": period, "revision": revision, "sequence": sequence,
        "created": utc_now(), "contract": {"id": contract.id, "version": contract.version, "hash": contract.hash},
        "rows": table.num_rows, "plaintext": {"sha256": hashlib.sha256(plain).hexdigest(), "size": len(plain)},
        "ciphertext": {"sha256": hashlib.sha256(cipher.getvalue()).hexdigest(), "size": len(cipher.getvalue())},
        "validation": {"success": True}, "disclosure": report.for_partner(),
        "sender_key_id": tha.public_keys("KHM").minisign.key_id}
    prefix = f"{contract.dataset}/{period}/{exchange_id}"
    attacker.put_bytes(BUCKET, f"{prefix}/{DATA}", cipher.getvalue())
    attacker.put_bytes(BUCKET, f"{prefix}/{MANIFEST}", canonical_json(manifest))
    return prefix


def test_bucket_key_only_planted_unsigned_manifest_is_never_signed(nodes, seaweed, tmp_path):
    khm, tha = nodes["KHM"], nodes["THA"]
    period = "2024-01"
    src = dataset(CONTRACT, tmp_path, period=period, seed=21)
    genuine = publish(khm, src, CONTRACT, period)
    planted = plant_exchange(Store(seaweed.client("KHM")), tha, period, tmp_path)

    again = publish(khm, src, CONTRACT, period)

    assert again.exchange_id == genuine.exchange_id and not again.created_now
    assert not khm.store.exists(BUCKET, f"{planted}/{SIGNATURE}")
    assert publish(khm, src, CONTRACT, period).exchange_id == genuine.exchange_id
    alarms = [a for a in events(khm, "alarm", kind="manifest-untrusted") if planted in a["where"]]
    assert len(alarms) == 1 and "no signature" in alarms[0]["reason"]  # recorded once, while it stays
    landed = [r for r in pull(tha, "KHM") if r.period == period]
    assert [(r.exchange_id, r.status) for r in landed] == [(genuine.exchange_id, "landed")]
    assert not (tha.home / "landing" / planted).exists()


def test_bucket_key_only_planted_manifests_never_set_revision_or_sequence(nodes, seaweed, tmp_path):
    """Planted before KHM's first publish: unsigned with a high revision and sequence, malformed,
    oversized, and a genuine signed manifest copied under this period. None of them counts."""
    khm, tha = nodes["KHM"], nodes["THA"]
    attacker, period = Store(seaweed.client("KHM")), "2024-02"
    earlier = publish(khm, dataset(CONTRACT, tmp_path, period="2024-03", seed=22), CONTRACT, "2024-03")
    planted = [plant_exchange(attacker, tha, period, tmp_path, exchange_id="1" * 32, revision=7, sequence=40)]
    for eid, body in (("2" * 32, b"{not json"), ("3" * 32, b" " * (MANIFEST_MAX + 1))):
        planted.append(f"children_on_the_move/{period}/{eid}")
        attacker.put_bytes(BUCKET, f"{planted[-1]}/{MANIFEST}", body)
    copy = f"children_on_the_move/{period}/{earlier.exchange_id}"
    planted.append(copy)
    for name in (MANIFEST, SIGNATURE):
        seaweed.client().copy_object(Bucket=BUCKET, Key=f"{copy}/{name}",
                                     CopySource={"Bucket": BUCKET, "Key": f"{earlier.prefix}/{name}"})
    before = max(m["sequence"] for m in
                 (json.loads(p.read_text()) for p in (khm.home / "outbound").glob("*/manifest.json"))
                 if m["dataset"] == "children_on_the_move")

    result = publish(khm, dataset(CONTRACT, tmp_path, period=period, seed=23), CONTRACT, period)

    assert (result.revision, result.sequence, result.created_now) == (1, before + 1, True)
    alarms = events(khm, "alarm", kind="manifest-untrusted")
    for prefix in planted:
        assert any(f"{prefix}/{MANIFEST}" in a["where"] for a in alarms), prefix
        assert not khm.store.exists(BUCKET, f"{prefix}/{SIGNATURE}") or prefix == copy
    assert "a copy of the manifest KHM signed for" in next(a for a in alarms if copy in a["where"])["reason"]
    assert receive(tha, "KHM", result.prefix).status == "landed"


class PlantBeforeManifest(Store):
    """A real store; just before the sender writes a manifest, the attacker plants its own there."""

    def __init__(self, client, attacker: Store, planted: bytes):
        super().__init__(client)
        self.attacker, self.planted = attacker, planted

    def put_if_absent(self, bucket, key, data):
        if key.endswith("/" + MANIFEST):
            self.attacker.put_bytes(bucket, key, self.planted)
        return super().put_if_absent(bucket, key, data)


def test_bucket_key_only_manifest_planted_at_the_senders_own_prefix_is_never_signed(nodes, seaweed, tmp_path):
    """The data object shows the exchange id before the manifest is written; an attacker racing
    to that prefix gets an alarm and an error, never a signature. Removing the object and
    re-running finishes the sender's own exchange."""
    khm, tha = nodes["KHM"], nodes["THA"]
    period = "2024-11"
    src = dataset(CONTRACT, tmp_path, period=period, seed=29)
    khm.store = PlantBeforeManifest(seaweed.client("KHM"), Store(seaweed.client("KHM")), b'{"planted": 1}')
    try:
        with pytest.raises(ProtocolError) as err:
            publish(khm, src, CONTRACT, period)
    finally:
        khm.store = Store(seaweed.client("KHM"))
    assert "holds a manifest this party did not write" in err.value.message
    key = next(k for k in khm.store.list_keys(BUCKET, f"children_on_the_move/{period}/") if k.endswith(MANIFEST))
    assert not khm.store.exists(BUCKET, key + ".minisig")
    assert any(key in a["where"] for a in events(khm, "alarm", kind="manifest-untrusted"))

    seaweed.client().delete_object(Bucket=BUCKET, Key=key)
    result = publish(khm, src, CONTRACT, period)
    assert f"{result.prefix}/{MANIFEST}" == key and result.created_now
    assert receive(tha, "KHM", result.prefix).status == "landed"


class CrashingStore(Store):
    """A real store whose process "dies" (raises) just before it writes the object ``crash_at``."""

    def __init__(self, client, crash_at: str):
        super().__init__(client)
        self.crash_at = crash_at

    def put_if_absent(self, bucket, key, data):
        if key.endswith("/" + self.crash_at):
            raise StoreUnavailable(f"crash before writing {key}")
        return super().put_if_absent(bucket, key, data)


def test_crash_between_manifest_and_signature_then_retry_records_publish_once(nodes, seaweed, tmp_path):
    khm, tha = nodes["KHM"], nodes["THA"]
    period = "2024-04"
    src = dataset(CONTRACT, tmp_path, period=period, seed=24)
    khm.store = CrashingStore(seaweed.client("KHM"), crash_at=SIGNATURE)
    try:
        with pytest.raises(StoreUnavailable):
            publish(khm, src, CONTRACT, period)
    finally:
        khm.store = Store(seaweed.client("KHM"))
    prefix = next(k.rsplit("/", 1)[0] for k in khm.store.list_keys(BUCKET, f"children_on_the_move/{period}/")
                  if k.endswith("/" + MANIFEST))
    assert not khm.store.exists(BUCKET, f"{prefix}/{SIGNATURE}") and discover(tha, "KHM").count(prefix) == 0

    retried = publish(khm, src, CONTRACT, period)
    again = publish(khm, src, CONTRACT, period)

    assert retried.prefix == prefix and retried.created_now and not again.created_now
    assert len(events(khm, "publish", exchange_id=retried.exchange_id)) == 1
    assert all(prefix not in a["where"] for a in events(khm, "alarm"))  # its own leftover is no alarm
    assert receive(tha, "KHM", prefix).status == "landed"


def test_crash_after_the_publish_entry_then_retry_does_not_record_it_again(nodes, monkeypatch, tmp_path):
    khm = nodes["KHM"]
    period = "2024-05"
    src = dataset(CONTRACT, tmp_path, period=period, seed=25)
    real = sent.write_json_atomic

    def crash_on_marker(path, data):
        if path.name == sent.PUBLISHED:
            raise StoreUnavailable("crash before the published marker")
        return real(path, data)

    monkeypatch.setattr(sent, "write_json_atomic", crash_on_marker)
    with pytest.raises(StoreUnavailable):
        publish(khm, src, CONTRACT, period)
    monkeypatch.setattr(sent, "write_json_atomic", real)
    retried = publish(khm, src, CONTRACT, period)
    assert not retried.created_now
    assert len(events(khm, "publish", exchange_id=retried.exchange_id)) == 1
    assert (khm.home / "outbound" / retried.exchange_id / sent.PUBLISHED).exists()


def _without(folder, tmp_path, name, drop):
    copy = tmp_path / name
    shutil.copytree(folder, copy)
    for pattern in drop:
        for path in copy.glob(pattern):
            path.unlink()
    return copy


@pytest.mark.parametrize("missing", ["secret signing key", "recipient age key", "agreement",
                                     "signing key of another party"])
def test_publish_without_keys_or_agreement_uploads_nothing(nodes, seaweed, tmp_path, missing):
    khm = nodes["KHM"]
    home, period = khm.home, "2024-06"
    overrides = {"party": "KHM", "home": home, "identity": home / "keys", "keyring": home / "keyring"}
    if missing == "secret signing key":
        overrides["identity"] = _without(home / "keys", tmp_path, "keys", ["KHM.minisign.key"])
    elif missing == "recipient age key":
        overrides["keyring"] = _without(home / "keyring", tmp_path, "keyring", ["THA.age.pub"])
    elif missing == "agreement":
        overrides["home"] = tmp_path / "home"
    else:
        overrides["identity"] = _without(home / "keys", tmp_path, "keys", ["KHM.minisign.key"])
        shutil.copy(nodes["THA"].home / "keys" / "THA.minisign.key", overrides["identity"] / "KHM.minisign.key")
    node = Node(load_settings(**overrides), Store(seaweed.client("KHM")))
    uploads = []
    node.store.writer = lambda *args, **kwargs: uploads.append(args) or pytest.fail("an upload was started")

    with pytest.raises(TerminalError) as err:
        publish(node, dataset(CONTRACT, tmp_path, period=period, seed=26), CONTRACT, period)

    assert uploads == [] and "Traceback" not in err.value.message
    assert list(khm.store.list_keys(BUCKET, f"children_on_the_move/{period}/")) == []
    pending = khm.store.client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert not [u for u in pending if u["Key"].startswith(f"children_on_the_move/{period}/")]


def test_file_of_another_period_is_quarantined_and_nothing_sent(nodes, tmp_path):
    khm = nodes["KHM"]
    src = dataset(CONTRACT, tmp_path, period="2024-08", seed=27)
    with pytest.raises(ContractBreach) as err:
        publish(khm, src, CONTRACT, "2024-07")
    assert "period other than the declared 2024-07 (they say 2024-08)" in err.value.message
    for period in ("2024-07", "2024-08"):
        assert list(khm.store.list_keys(BUCKET, f"children_on_the_move/{period}/")) == []
    folder = next((khm.home / "quarantine").glob(f"{CONTRACT}-2024-07-*"))
    assert "declared 2024-07" in json.loads((folder / "reason.json").read_text())["reason"]
    assert (folder / "input.parquet").exists()
    assert events(khm, "quarantine", contract=CONTRACT, period="2024-07")


def test_partner_with_valid_keys_sends_rows_of_another_period_and_is_rejected(nodes, monkeypatch, tmp_path):
    """KHM (its own, valid keys) skips its declared-terms check and publishes a 2024-10 file as
    2024-09: THA must reject it, quarantine it, send a rejected receipt and land nothing."""
    khm, tha = nodes["KHM"], nodes["THA"]
    monkeypatch.setattr(outbound, "check_declared_terms", lambda *args: None)
    result = publish(khm, dataset(CONTRACT, tmp_path, period="2024-10", seed=28), CONTRACT, "2024-09")

    with pytest.raises(ExchangeRejected) as err:
        receive(tha, "KHM", result.prefix)

    assert "period other than the declared 2024-09" in err.value.message
    assert not (tha.home / "landing" / result.prefix).exists()
    reason = json.loads((tha.home / "quarantine" / result.exchange_id / "reason.json").read_text())["reason"]
    assert "declared 2024-09" in reason
    assert events(tha, "reject", exchange_id=result.exchange_id)
    key = receipt_key("children_on_the_move", "2024-09", result.exchange_id)
    receipt = json.loads(khm.store.get_bytes("tha-to-khm", key, 1 << 20))
    assert receipt["status"] == "rejected" and "declared 2024-09" in receipt["reason"]
