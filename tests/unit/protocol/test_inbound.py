"""The receiving side's rules on the in-memory store (twins of the SeaweedFS tests in
tests/integration/protocol/test_protocol.py, test_attacks_inbound.py and test_protocol_faults.py).

Each attack ends in a typed error, a quarantine with its reason, a ``reject`` audit entry and a
signed ``rejected`` receipt, with nothing landed and no genuine exchange blocked. Most attacks
are forged objects signed with a party's real key (``partner_with_valid_keys``) or planted with
a bucket key only (``bucket_key_only``); they are refused before a byte of data is decrypted.
"""

from __future__ import annotations

import io
import logging

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.errors import ObjectTooLarge, StoreUnavailable
from exchange.protocol import inbound as inbound_module
from exchange.protocol.inbound import ExchangeRejected, discover, pull, receive
from exchange.protocol.limits import MANIFEST_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import recipient_key_id
from exchange.protocol.outbound import publish
from tests.support.protocol import (
    assert_quarantined,
    copy_exchange,
    events,
    forge,
    manifest_doc,
    manifest_fields,
    receipts_about,
    signed_objects,
)

CONTRACT = "children_on_the_move.khm-tha"
BUCKET = "khm-to-tha"
PERIOD = "2026-10"


def no_decrypt(monkeypatch):
    monkeypatch.setattr(inbound_module.age, "decryptor", lambda *a: pytest.fail("decrypted"))


def test_every_rule_passes_for_a_genuine_exchange_which_lands_once(nodes, published):
    khm, tha, genuine = nodes["KHM"], nodes["THA"], published
    [result] = pull(tha, "KHM")
    assert (result.exchange_id, result.status) == (genuine.exchange_id, "landed")
    assert pq.read_table(result.path).num_rows == genuine.rows
    assert discover(tha, "KHM") == [] and receive(tha, "KHM", genuine.prefix).status == "skipped"
    [receipt] = receipts_about(khm.store, "tha-to-khm", genuine.exchange_id)
    assert receipt["status"] == "accepted"
    assert [e["exchange_id"] for e in events(tha, "land")] == [genuine.exchange_id]


def test_partner_with_valid_keys_replay_and_rollback_are_refused(nodes, source, published, monkeypatch):
    khm, tha, old = nodes["KHM"], nodes["THA"], published
    new = publish(khm, source(seed=2), CONTRACT, PERIOD)
    assert receive(tha, "KHM", new.prefix).status == "landed"
    no_decrypt(monkeypatch)

    with pytest.raises(ExchangeRejected) as err:  # rollback to revision 1
        receive(tha, "KHM", old.prefix)
    assert "not newer" in err.value.message and err.value.exchange_id == old.exchange_id
    assert_quarantined(tha, "KHM", old.prefix, "revision 1")
    assert receive(tha, "KHM", new.prefix).status == "skipped"

    landed = manifest_doc(khm.store, new.prefix)  # the landed revision again, under a new id and sequence
    replay = forge(khm, tha, {**landed, "exchange_id": "d" * 32, "sequence": landed["sequence"] + 1})
    with pytest.raises(ExchangeRejected, match="is not newer than landed"):
        receive(tha, "KHM", replay.prefix)
    assert [p.name for p in (tha.home / "landing" / "KHM" / "children_on_the_move" / PERIOD).iterdir()] \
        == [new.exchange_id]


def test_two_revisions_between_pulls_land_in_publishing_order(nodes, source, published):
    khm, tha, first = nodes["KHM"], nodes["THA"], published
    second = publish(khm, source(seed=2), CONTRACT, PERIOD)
    assert [(r.exchange_id, r.status) for r in pull(tha, "KHM")] == [(first.exchange_id, "landed"),
                                                                    (second.exchange_id, "landed")]


def test_two_revisions_received_by_parallel_tasks_are_decided_one_at_a_time(nodes, published, monkeypatch):
    """Two Airflow tasks receiving from one sender at once could both pass the ordering check
    and both land; receive holds the sender's lock for the whole decision."""
    import fcntl

    tha = nodes["THA"]
    lock = tha.home / "inbound" / "KHM" / ".receiving.lock"
    held = []

    def probe(node, partner, prefix, progress):  # what a second, concurrent receive would meet
        with lock.open("a") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(prefix)
        return "decided"

    monkeypatch.setattr(inbound_module, "_receive", probe)
    assert receive(tha, "KHM", published.prefix) == "decided" and held == [published.prefix]


def test_the_dag_discovers_in_publishing_order(nodes, source, published, monkeypatch):
    from exchange.orchestration import tasks

    khm, tha = nodes["KHM"], nodes["THA"]
    second = publish(khm, source(seed=2), CONTRACT, PERIOD)
    monkeypatch.setattr(tasks, "node_for", lambda client: tha)
    assert tasks.discover_inbound(None, "KHM") == [published.prefix, second.prefix]


def test_partner_with_valid_keys_rollback_is_per_sender(nodes, source):
    """THA and MYS each send KHM their first exchange (sequence 1) of the same period: both land."""
    khm = nodes["KHM"]
    for sender in ("MYS", "THA"):
        contract = f"child_birth_registrations.{sender.lower()}-khm"
        result = publish(nodes[sender], source(contract), contract, PERIOD)
        assert (result.revision, result.sequence) == (1, 1)
        assert [r.status for r in pull(khm, sender)] == ["landed"]
        assert (khm.home / "landing" / sender / result.prefix / "data.parquet").exists()


def test_bucket_key_only_copied_exchange_does_not_block_the_genuine_one(nodes, published):
    khm, tha, genuine = nodes["KHM"], nodes["THA"], published
    copies = {f"children_on_the_move/2001-01/{genuine.exchange_id}": "manifest period is",  # sorts first
              f"workers_deployed/{PERIOD}/{genuine.exchange_id}": "manifest dataset is",
              f"children_on_the_move/{PERIOD}/{'f' * 32}": "manifest exchange_id is"}
    for copy in copies:
        copy_exchange(khm.store, genuine.prefix, copy)

    results = {f"{r.dataset}/{r.period}/{r.exchange_id}": r for r in pull(tha, "KHM")}

    assert results[genuine.prefix].status == "landed"
    for copy, words in copies.items():
        assert results[copy].status == "rejected"
        assert_quarantined(tha, "KHM", copy, words)
    assert discover(tha, "KHM") == []
    assert len(list((tha.home / "landing" / "KHM").glob(f"*/*/{genuine.exchange_id}"))) == 1
    about = receipts_about(khm.store, "tha-to-khm", genuine.exchange_id)
    assert any(d["status"] == "rejected" and d["period"] == "2001-01" for d in about)
    assert [d["status"] for d in about if d["period"] == PERIOD and d["dataset"] == "children_on_the_move"] \
        == ["accepted"]


def test_bucket_key_only_signature_moved_to_another_exchange_is_refused(nodes, monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    one = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "a" * 32))
    two = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "b" * 32, revision=2, sequence=2))
    khm.store.put_bytes(BUCKET, f"{two.prefix}/manifest.json.minisig",
                        khm.store.get_bytes(BUCKET, f"{one.prefix}/manifest.json.minisig", SIGNATURE_MAX))
    no_decrypt(monkeypatch)
    with pytest.raises(ExchangeRejected, match="signature"):
        receive(tha, "KHM", two.prefix)
    assert_quarantined(tha, "KHM", two.prefix, "signature")


def test_partner_with_valid_keys_signature_naming_another_exchange_is_refused(nodes, monkeypatch):
    """A valid signature over this very manifest whose trusted comment names another exchange."""
    khm, tha = nodes["KHM"], nodes["THA"]
    forged = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "a" * 32))
    body = khm.store.get_bytes(BUCKET, f"{forged.prefix}/manifest.json", MANIFEST_MAX)
    comment = forged.comment().replace("a" * 32, "b" * 32)
    khm.store.put_bytes(BUCKET, f"{forged.prefix}/manifest.json.minisig", khm.identity.signing_key.sign(body, comment))
    no_decrypt(monkeypatch)
    with pytest.raises(ExchangeRejected, match="signature names another exchange"):
        receive(tha, "KHM", forged.prefix)
    assert_quarantined(tha, "KHM", forged.prefix, "signature names another exchange")


def test_bucket_key_only_manifest_signed_by_another_party_is_refused(nodes, monkeypatch):
    """THA's own signing key is public knowledge to THA only; an exchange in KHM's bucket signed
    by anyone but KHM (here: MYS) fails verification with KHM's key."""
    khm, tha, mys = nodes["KHM"], nodes["THA"], nodes["MYS"]
    fields = manifest_fields(khm, tha, CONTRACT, PERIOD, "c" * 32)
    forged = forge(mys, tha, fields, store=khm.store)
    no_decrypt(monkeypatch)
    with pytest.raises(ExchangeRejected) as err:
        receive(tha, "KHM", forged.prefix)
    assert_quarantined(tha, "KHM", forged.prefix, err.value.message.split("rejected: ", 1)[1][:40])


@pytest.mark.parametrize("case", ["foreign_contract", "own_contract_other_dataset"])
def test_partner_with_valid_keys_contract_confusion_rejected(nodes, monkeypatch, case):
    """MYS signs with its own keys a manifest under THA's contract (or under its own contract for
    a dataset that contract does not cover) and writes it into its own bucket to KHM."""
    khm, mys = nodes["KHM"], nodes["MYS"]
    fields = manifest_fields(nodes["THA"], khm, "returnees.tha-khm", PERIOD, "e" * 32)
    fields.update(sender="MYS", bucket="mys-to-khm", sender_key_id=mys.identity.signing_key.public_key.key_id)
    if case == "own_contract_other_dataset":
        fields["contract"] = manifest_fields(mys, khm, "child_birth_registrations.mys-khm", PERIOD, "")["contract"]
    forged = forge(mys, khm, fields)
    no_decrypt(monkeypatch)
    [result] = pull(khm, "MYS")
    assert result.status == "rejected"
    words = "is from THA to KHM" if case == "foreign_contract" else "contract child_birth_registrations.mys-khm says"
    assert_quarantined(khm, "MYS", forged.prefix, words)
    [receipt] = receipts_about(mys.store, "khm-to-mys", forged.exchange_id)
    assert receipt["status"] == "rejected" and words in receipt["reason"]


def test_partner_with_valid_keys_wrong_recipient_key_id_rejected_before_decrypt(nodes, monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    fields = manifest_fields(khm, tha, CONTRACT, PERIOD, "e" * 32)
    fields["recipients"] = [{**fields["recipients"][0], "key_id": recipient_key_id("age1stale")}]
    forged = forge(khm, tha, fields)
    no_decrypt(monkeypatch)
    with pytest.raises(ExchangeRejected, match="encrypted to age key") as err:
        receive(tha, "KHM", forged.prefix)
    assert err.value.folder and err.value.__cause__.field == "recipients.key_id"
    assert_quarantined(tha, "KHM", forged.prefix, "encrypted to age key")


def test_partner_with_valid_keys_oversized_exchange_is_refused_before_download(nodes, monkeypatch):
    from exchange.canonical import canonical_json
    from exchange.protocol.limits import EXCHANGE_MAX

    khm, tha = nodes["KHM"], nodes["THA"]
    fields = manifest_fields(khm, tha, CONTRACT, PERIOD, "f" * 32)

    def oversized(manifest) -> bytes:  # signed like any manifest; it declares 64 GiB + 1 of ciphertext
        doc = manifest.to_dict()
        return canonical_json({**doc, "ciphertext": {**doc["ciphertext"], "size": EXCHANGE_MAX + 1}})

    manifest, objects = signed_objects(khm, fields, b"PAR1 never read", tha.public_keys("THA").age_recipient,
                                       oversized)
    for key, body in objects.items():
        khm.store.put_bytes(BUCKET, key, body)
    monkeypatch.setattr(inbound_module, "_download_and_decrypt", lambda *a: pytest.fail("downloaded"))
    with pytest.raises(ExchangeRejected, match="over the limit") as err:
        receive(tha, "KHM", manifest.prefix)
    assert err.value.__cause__.field == "ciphertext.size"


def test_partner_with_valid_keys_exchange_addressed_to_another_party_is_refused(nodes, monkeypatch):
    khm, tha, mys = nodes["KHM"], nodes["THA"], nodes["MYS"]
    fields = manifest_fields(khm, mys, "workers_deployed.khm-mys", PERIOD, "9" * 32)
    fields.update(bucket=BUCKET, dataset="children_on_the_move", contract=manifest_fields(
        khm, tha, CONTRACT, PERIOD, "")["contract"])
    forged = forge(khm, mys, fields)
    no_decrypt(monkeypatch)
    with pytest.raises(ExchangeRejected, match="addressed to"):
        receive(tha, "KHM", forged.prefix)
    assert_quarantined(tha, "KHM", forged.prefix, "addressed to")


def test_bucket_key_only_replaced_ciphertext_is_never_decrypted(nodes, monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    forged = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "e" * 32))
    khm.store.put_bytes(BUCKET, f"{forged.prefix}/data.parquet.age", b"age-encryption.org/v1\nother")
    no_decrypt(monkeypatch)
    with pytest.raises(ExchangeRejected, match="ciphertext SHA-256"):
        receive(tha, "KHM", forged.prefix)
    assert_quarantined(tha, "KHM", forged.prefix, "ciphertext SHA-256")


def test_bucket_key_only_huge_manifest_is_read_no_further_than_its_limit(nodes, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    huge = f"children_on_the_move/{PERIOD}/{'d' * 32}"
    khm.store.put_bytes(BUCKET, f"{huge}/manifest.json", b'{"sequence": 0, "pad": "' + b" " * (8 << 20) + b'"}')
    khm.store.put_bytes(BUCKET, f"{huge}/manifest.json.minisig", b"x" * (1 << 20))
    store.server.served = 0

    [result] = pull(tha, "KHM")

    assert result.status == "rejected" and "larger than" in result.reason
    assert store.server.served <= 2 * (MANIFEST_MAX + 1)  # ordering and receive: bounded reads of the manifest
    assert_quarantined(tha, "KHM", huge, "larger than")
    [receipt] = receipts_about(tha.store, "tha-to-khm", "d" * 32)
    assert receipt["status"] == "rejected"
    with pytest.raises(ObjectTooLarge) as err:
        tha.store.get_bytes(BUCKET, f"{huge}/manifest.json", MANIFEST_MAX)
    assert (err.value.bucket, err.value.key, err.value.limit) == (BUCKET, f"{huge}/manifest.json", MANIFEST_MAX)


def rows_of(period: str, ref_area: str, counterpart_area: str, n: int = 3) -> bytes:
    """A small Parquet file with the columns that declare what an exchange is about."""
    out = io.BytesIO()
    pq.write_table(pa.table({"period": [period] * n, "ref_area": [ref_area] * n,
                             "counterpart_area": [counterpart_area] * n}), out)
    return out.getvalue()


@pytest.mark.parametrize(("rows", "words"), [
    (rows_of("2026-09", "KHM", "THA"), "period other than the declared 2026-10"),
    (rows_of(PERIOD, "MYS", "THA"), "ref_area"),
])
def test_partner_with_valid_keys_rows_that_contradict_the_declared_terms_are_rejected(nodes, monkeypatch,
                                                                                       rows, words):
    """KHM (its own, valid keys) skips its declared-terms check: THA quarantines, audits and
    answers with a rejected receipt, and validation never reads the rows."""
    khm, tha = nodes["KHM"], nodes["THA"]
    forged = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "7" * 32, rows=3), rows)
    monkeypatch.setattr(inbound_module, "validate", lambda *a, **k: pytest.fail("validated"))
    with pytest.raises(ExchangeRejected) as err:
        receive(tha, "KHM", forged.prefix)
    assert words in err.value.message
    assert_quarantined(tha, "KHM", forged.prefix, words)
    [receipt] = receipts_about(tha.store, "tha-to-khm", forged.exchange_id)
    assert receipt["status"] == "rejected" and words in receipt["reason"]


ODD_IDS = ["é" * 130, "a" * 250, "0123456789abcdef\n0123456789abcdef"]


def test_bucket_key_only_odd_object_keys_are_noted_once_and_never_used(nodes, caplog):
    khm, tha = nodes["KHM"], nodes["THA"]
    planted = [f"children_on_the_move/{PERIOD}/{odd}/{name}" for odd in ODD_IDS
               for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig")]
    for key in planted:
        khm.store.put_bytes(BUCKET, key, b"{}")
    with caplog.at_level(logging.WARNING, logger="gcmx.inbound"):
        assert pull(tha, "KHM") == []
        assert pull(tha, "KHM") == []
    notes = events(tha, "ignore")
    assert len(notes) == len(planted) == len([r for r in caplog.records if r.name == "gcmx.inbound"])
    assert all("\n" not in n["object"] and "é" not in n["object"] for n in notes)
    assert not [p for p in tha.home.rglob("*") if "é" in p.name or "\n" in p.name or len(p.name) > 200]


def test_store_down_during_receive_leaves_no_trace_and_the_retry_decides(nodes, store, monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    forged = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "e" * 32, rows=3),
                   rows_of("2026-09", "KHM", "THA"))
    store.server.down = True
    with pytest.raises(StoreUnavailable) as err:
        receive(tha, "KHM", forged.prefix)
    store.server.down = False
    assert err.value.transient and err.value.bucket == BUCKET
    assert not (tha.home / "inbound" / "KHM" / f"{forged.prefix}.json").exists()
    assert not (tha.home / "quarantine").exists() or not any((tha.home / "quarantine").iterdir())
    assert discover(tha, "KHM") == [forged.prefix]
    with pytest.raises(ExchangeRejected):
        receive(tha, "KHM", forged.prefix)


def test_crash_after_the_landing_rename_then_retry_accepts(nodes, published, monkeypatch):
    khm, tha, genuine = nodes["KHM"], nodes["THA"], published
    answer = inbound_module._answer

    def crash(*args):
        monkeypatch.setattr(inbound_module, "_answer", answer)
        raise SystemExit("killed after the landing rename")

    monkeypatch.setattr(inbound_module, "_answer", crash)
    with pytest.raises(SystemExit):
        receive(tha, "KHM", genuine.prefix)
    landed = tha.home / "landing" / "KHM" / genuine.prefix
    assert (landed / "data.parquet").exists() and genuine.prefix in discover(tha, "KHM")
    result = receive(tha, "KHM", genuine.prefix)
    assert result.status == "landed" and result.path == str(landed / "data.parquet")
    assert [e.get("recovered") for e in events(tha, "land")] == [None, True]
    [receipt] = receipts_about(khm.store, "tha-to-khm", genuine.exchange_id)
    assert receipt["status"] == "accepted" and genuine.prefix not in discover(tha, "KHM")
