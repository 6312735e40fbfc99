"""The sending side's rules on the in-memory store (twins of the SeaweedFS tests in
tests/integration/protocol/test_protocol.py and test_attacks_outbound.py).

The sender trusts only what it recorded or signed itself; a re-run finishes or confirms its own
exchange; a verified ``rejected`` receipt makes the re-run a new revision; keys, keyring and
agreement are checked before anything is uploaded; a file that breaks its contract or declares
another period is quarantined with an audit entry and nothing is sent.
"""

from __future__ import annotations

import json
import shutil

import pytest

from exchange.errors import ProtocolError, StoreUnavailable, TerminalError
from exchange.protocol import sent
from exchange.protocol.inbound import discover, pull
from exchange.protocol.limits import MANIFEST_MAX
from exchange.protocol.naming import MANIFEST, SIGNATURE, list_exchanges
from exchange.protocol.node import Node
from exchange.protocol.outbound import ContractBreach, publish
from exchange.protocol.receipts import collect_receipts
from exchange.settings import load_settings
from tests.support.memory_store import MemoryStore
from tests.support.protocol import copy_exchange, events

CONTRACT = "children_on_the_move.khm-tha"
BUCKET = "khm-to-tha"
PERIOD = "2026-10"


def test_publish_writes_data_manifest_and_signature_and_records_it(nodes, source):
    khm = nodes["KHM"]
    result = publish(khm, source(), CONTRACT, PERIOD)
    assert result.created_now and (result.revision, result.sequence) == (1, 1)
    assert set(khm.store.list_keys(BUCKET, result.prefix)) == {
        f"{result.prefix}/{name}" for name in ("data.parquet.age", MANIFEST, SIGNATURE)}
    record = json.loads((khm.home / "outbound" / result.exchange_id / "manifest.json").read_text())
    assert record["exchange_id"] == result.exchange_id and record["bucket"] == BUCKET
    assert len(events(khm, "publish", exchange_id=result.exchange_id)) == 1
    assert list_exchanges(khm.store, BUCKET)[0].prefix == result.prefix


def test_rerun_of_the_same_publish_is_idempotent(nodes, source, published):
    khm, first = nodes["KHM"], published
    again = publish(khm, source(), CONTRACT, PERIOD)
    assert again.exchange_id == first.exchange_id and not again.created_now
    assert len(list(khm.store.list_keys(BUCKET, first.prefix))) == 3
    assert len(events(khm, "publish", exchange_id=first.exchange_id)) == 1


def test_new_input_for_a_period_is_the_next_revision_and_sequence(nodes, source, published):
    khm, first = nodes["KHM"], published
    second = publish(khm, source(seed=2), CONTRACT, PERIOD)
    assert [(r.revision, r.sequence) for r in (first, second)] == [(1, 1), (2, 2)]


def test_bucket_key_only_deleted_data_is_rejected_then_sent_again_as_a_new_revision(nodes, source, published):
    """A verified ``rejected`` receipt makes the re-run of the same input a new revision, which lands."""
    khm, tha, first = nodes["KHM"], nodes["THA"], published
    khm.store.objects[BUCKET].pop(f"{first.prefix}/data.parquet.age")
    assert [r.status for r in pull(tha, "KHM")] == ["rejected"]
    assert [r.status for r in collect_receipts(khm, "THA")] == ["rejected"]

    second = publish(khm, source(), CONTRACT, PERIOD)

    assert (second.revision, second.created_now) == (2, True) and second.exchange_id != first.exchange_id
    assert [(r.exchange_id, r.status) for r in pull(tha, "KHM")] == [(second.exchange_id, "landed")]
    assert [r.status for r in collect_receipts(khm, "THA")] == ["accepted"]
    assert not publish(khm, source(), CONTRACT, PERIOD).created_now  # delivered: a no-op now


def test_bucket_key_only_planted_rejected_receipt_does_not_make_a_new_revision(nodes, source, published):
    """Only a receipt the sender verified counts: a planted one is invalid and changes nothing."""
    khm, tha, first = nodes["KHM"], nodes["THA"], published
    dataset_, period, eid = first.prefix.split("/")
    attacker = tha.store  # THA's bucket key, not its signing key
    attacker.put_bytes("tha-to-khm", f"receipts/{dataset_}/{period}/{eid}.json", b'{"status": "rejected"}')
    attacker.put_bytes("tha-to-khm", f"receipts/{dataset_}/{period}/{eid}.json.minisig", b"junk")
    assert [r.status for r in collect_receipts(khm, "THA")] == ["invalid"]
    again = publish(khm, source(), CONTRACT, PERIOD)
    assert (again.exchange_id, again.created_now) == (first.exchange_id, False)


def plant_unsigned(store, prefix: str, doc: dict) -> None:
    """With KHM's bucket key only: a manifest without a signature."""
    store.put_bytes(BUCKET, f"{prefix}/data.parquet.age", b"age-encryption.org/v1 not really")
    store.put_bytes(BUCKET, f"{prefix}/{MANIFEST}", json.dumps(doc).encode())


def test_bucket_key_only_planted_unsigned_manifest_is_never_signed(nodes, source, published):
    khm, tha, genuine = nodes["KHM"], nodes["THA"], published
    planted = f"children_on_the_move/{PERIOD}/{'0' * 32}"
    doc = json.loads(khm.store.get_bytes(BUCKET, f"{genuine.prefix}/{MANIFEST}", MANIFEST_MAX))
    plant_unsigned(khm.store, planted, {**doc, "exchange_id": "0" * 32, "revision": 9, "sequence": 9})

    again = publish(khm, source(), CONTRACT, PERIOD)

    assert again.exchange_id == genuine.exchange_id and not again.created_now
    assert not khm.store.exists(BUCKET, f"{planted}/{SIGNATURE}")
    publish(khm, source(), CONTRACT, PERIOD)
    alarms = [a for a in events(khm, "alarm", kind="manifest-untrusted") if planted in a["where"]]
    assert len(alarms) == 1 and "no signature" in alarms[0]["reason"]  # recorded once, while it stays
    assert [(r.exchange_id, r.status) for r in pull(tha, "KHM")] == [(genuine.exchange_id, "landed")]


def test_bucket_key_only_planted_manifests_never_set_revision_or_sequence(nodes, source, published):
    """Unsigned with a high revision, malformed, oversized, and a genuine signed manifest copied
    under this period: none of them counts (the sequence goes on from the earlier period), each
    is alarmed."""
    khm, earlier, period = nodes["KHM"], published, "2026-11"
    doc = json.loads(khm.store.get_bytes(BUCKET, f"{earlier.prefix}/{MANIFEST}", MANIFEST_MAX))
    planted = [f"children_on_the_move/{period}/{'1' * 32}"]
    plant_unsigned(khm.store, planted[0], {**doc, "exchange_id": "1" * 32, "period": period, "revision": 7,
                                           "sequence": 40})
    for eid, body in (("2" * 32, b"{not json"), ("3" * 32, b" " * (MANIFEST_MAX + 1))):
        planted.append(f"children_on_the_move/{period}/{eid}")
        khm.store.put_bytes(BUCKET, f"{planted[-1]}/{MANIFEST}", body)
        khm.store.put_bytes(BUCKET, f"{planted[-1]}/{SIGNATURE}", b"junk")
    copy = f"children_on_the_move/{period}/{earlier.exchange_id}"
    copy_exchange(khm.store, earlier.prefix, copy)
    planted.append(copy)

    result = publish(khm, source(period=period), CONTRACT, period)

    assert (result.revision, result.sequence, result.created_now) == (1, 2, True)
    alarms = events(khm, "alarm", kind="manifest-untrusted")
    for prefix in planted:
        assert any(f"{prefix}/{MANIFEST}" in a["where"] for a in alarms), prefix
    assert "a copy of the manifest KHM signed for" in next(a for a in alarms if copy in a["where"])["reason"]
    assert not any(khm.store.exists(BUCKET, f"{prefix}/{SIGNATURE}") for prefix in planted[:1])


class PlantBeforeManifest(MemoryStore):
    """Just before the sender writes a manifest, an attacker with its bucket key plants one there."""

    def put_if_absent(self, bucket, key, data):
        if key.endswith("/" + MANIFEST):
            self.as_party(None).put_bytes(bucket, key, b'{"planted": 1}')
        return super().put_if_absent(bucket, key, data)


def test_bucket_key_only_manifest_planted_in_the_senders_own_slot_is_never_signed(nodes, source):
    khm, tha = nodes["KHM"], nodes["THA"]
    honest = khm.store
    khm.store = PlantBeforeManifest(honest.server, "KHM")
    with pytest.raises(ProtocolError) as err:
        publish(khm, source(), CONTRACT, PERIOD)
    khm.store = honest
    assert "holds a manifest this party did not write" in err.value.message
    [key] = [k for k in khm.store.list_keys(BUCKET) if k.endswith(MANIFEST)]
    assert not khm.store.exists(BUCKET, key + ".minisig")
    assert any(key in a["where"] for a in events(khm, "alarm", kind="manifest-untrusted"))

    del khm.store.objects[BUCKET][key]  # the partner removes it; the re-run finishes the genuine exchange
    result = publish(khm, source(), CONTRACT, PERIOD)
    assert f"{result.prefix}/{MANIFEST}" == key and result.created_now
    assert result.prefix in discover(tha, "KHM")


class CrashBefore(MemoryStore):
    """The process "dies" (a transient error) just before it writes the object ``crash_at``."""

    crash_at = SIGNATURE

    def put_if_absent(self, bucket, key, data):
        if key.endswith("/" + self.crash_at):
            raise StoreUnavailable(f"crash before writing {key}")
        return super().put_if_absent(bucket, key, data)


def test_crash_between_manifest_and_signature_then_retry_records_publish_once(nodes, source):
    khm, tha = nodes["KHM"], nodes["THA"]
    honest = khm.store
    khm.store = CrashBefore(honest.server, "KHM")
    with pytest.raises(StoreUnavailable):
        publish(khm, source(), CONTRACT, PERIOD)
    khm.store = honest
    [prefix] = [k.rsplit("/", 1)[0] for k in khm.store.list_keys(BUCKET) if k.endswith("/" + MANIFEST)]
    assert not khm.store.exists(BUCKET, f"{prefix}/{SIGNATURE}") and prefix not in discover(tha, "KHM")

    retried = publish(khm, source(), CONTRACT, PERIOD)
    again = publish(khm, source(), CONTRACT, PERIOD)

    assert retried.prefix == prefix and retried.created_now and not again.created_now
    assert len(events(khm, "publish", exchange_id=retried.exchange_id)) == 1
    assert not events(khm, "alarm")  # its own leftover is no alarm
    assert discover(tha, "KHM") == [prefix]


def test_crash_after_the_publish_entry_then_retry_does_not_record_it_again(nodes, source, monkeypatch):
    khm = nodes["KHM"]
    real = sent.write_json_atomic

    def crash_on_marker(path, data):
        if path.name == sent.PUBLISHED:
            raise StoreUnavailable("crash before the published marker")
        return real(path, data)

    monkeypatch.setattr(sent, "write_json_atomic", crash_on_marker)
    with pytest.raises(StoreUnavailable):
        publish(khm, source(), CONTRACT, PERIOD)
    monkeypatch.setattr(sent, "write_json_atomic", real)
    retried = publish(khm, source(), CONTRACT, PERIOD)
    assert not retried.created_now
    assert len(events(khm, "publish", exchange_id=retried.exchange_id)) == 1


def _without(folder, target, drop: list[str]):
    shutil.copytree(folder, target)
    for name in drop:
        (target / name).unlink()
    return target


@pytest.mark.parametrize("missing", ["secret signing key", "recipient age key", "agreement",
                                     "signing key of another party"])
def test_publish_without_keys_or_agreement_uploads_nothing(nodes, source, tmp_path, missing):
    khm = nodes["KHM"]
    home = khm.home
    overrides = {"party": "KHM", "home": home, "identity": home / "keys", "keyring": home / "keyring"}
    if missing == "secret signing key":
        overrides["identity"] = _without(home / "keys", tmp_path / "keys", ["KHM.minisign.key"])
    elif missing == "recipient age key":
        overrides["keyring"] = _without(home / "keyring", tmp_path / "keyring", ["THA.age.pub"])
    elif missing == "agreement":
        overrides["home"] = tmp_path / "home"
    else:
        overrides["identity"] = _without(home / "keys", tmp_path / "keys", ["KHM.minisign.key"])
        shutil.copy(nodes["THA"].home / "keys" / "THA.minisign.key", overrides["identity"] / "KHM.minisign.key")
    node = Node(load_settings(**overrides), khm.store)
    node.store.writer = lambda *args, **kwargs: pytest.fail("an upload was started")

    with pytest.raises(TerminalError) as err:
        publish(node, source(), CONTRACT, PERIOD)

    assert err.value.hint and "Traceback" not in err.value.message
    assert list(khm.store.list_keys(BUCKET)) == [] and khm.store.server.uploads == {}


def test_contract_breach_is_quarantined_and_audited_and_nothing_is_sent(nodes, source):
    khm = nodes["KHM"]
    with pytest.raises(ContractBreach) as err:
        publish(khm, source(violations=["unknown_code"]), CONTRACT, PERIOD)
    assert "children_on_the_move" in err.value.message and "quarantine" in err.value.hint
    assert err.value.contract == CONTRACT and err.value.folder
    # nothing of the dataset is in the bucket (its claims name no data)
    assert [k for k in khm.store.list_keys(BUCKET) if not k.startswith(("index/", "claims/"))] == []
    assert khm.store.server.uploads == {}  # the multipart upload was aborted
    [folder] = (khm.home / "quarantine").glob(f"{CONTRACT}-{PERIOD}-*")
    assert str(folder) == err.value.folder
    assert (folder / "reason.json").exists() and (folder / "input.parquet").exists()
    assert events(khm, "quarantine", contract=CONTRACT, period=PERIOD)


def test_file_of_another_period_is_quarantined_and_audited_and_nothing_is_sent(nodes, source):
    khm = nodes["KHM"]
    with pytest.raises(ContractBreach) as err:
        publish(khm, source(period="2026-08"), CONTRACT, "2026-07")
    assert "period other than the declared 2026-07 (they say 2026-08)" in err.value.message
    assert list(khm.store.list_keys(BUCKET)) == []
    [folder] = (khm.home / "quarantine").glob(f"{CONTRACT}-2026-07-*")
    assert "declared 2026-07" in json.loads((folder / "reason.json").read_text())["reason"]
    assert (folder / "input.parquet").exists()
    assert events(khm, "quarantine", contract=CONTRACT, period="2026-07")


def test_partner_credentials_cannot_write_the_senders_bucket(nodes):
    from exchange.errors import AccessDenied

    with pytest.raises(AccessDenied) as err:
        nodes["THA"].store.put_bytes(BUCKET, "children_on_the_move/x", b"x")
    assert (err.value.bucket, err.value.key) == (BUCKET, "children_on_the_move/x")
