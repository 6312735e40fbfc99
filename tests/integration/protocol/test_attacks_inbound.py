"""Attacks on the receiving side, on a real SeaweedFS with KHM, THA and MYS (issue 11).

Each test is named by what the attacker holds: a leaked bucket key only (it can write
any object into a sender's bucket, but cannot sign), or a partner's own valid keys.
Each attack must end in a typed error, a quarantine with its reason, an audit entry and
a rejected receipt where one applies, with nothing landed twice and no genuine exchange
blocked.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.crypto import age
from exchange.protocol import inbound as inbound_module
from exchange.protocol.inbound import ExchangeRejected, discover, in_publish_order, pull, receive
from exchange.protocol.manifest import Manifest, recipient_key_id
from exchange.protocol.outbound import publish
from tests.conftest import start_seaweed
from tests.support.protocol import dataset, make_nodes, signed_exchange

CONTRACT = "children_on_the_move.khm-tha"
PERIODS = (f"{year}-{month:02d}" for year in range(2030, 2050) for month in range(1, 13))
MIB = 1 << 20


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nodes(seaweed, tmp_path_factory):
    """KHM, THA and MYS: KHM is paired with each of the others."""
    return make_nodes(seaweed, tmp_path_factory.mktemp("parties"), parties=("KHM", "THA", "MYS"))


def published(node, contract, tmp_path, seed=1):
    """A genuine exchange of ``contract`` in a period of its own, and that period."""
    period = next(PERIODS)
    return publish(node, dataset(contract, tmp_path, period=period, seed=seed), contract, period), period


def manifest_of(node, bucket, prefix) -> dict:
    return json.loads(node.store.get_bytes(bucket, f"{prefix}/manifest.json", MIB))


def forge(seaweed, signer, fields: dict, plaintext: bytes, recipient_key: str) -> Manifest:
    """A manifest signed by ``signer`` over ``fields``, with data encrypted to ``recipient_key``,
    written into the bucket the fields name (as only a bucket key or the signer could)."""
    return signed_exchange(seaweed.client(), fields["bucket"], signer, fields, plaintext, recipient_key)


@pytest.fixture
def planted(seaweed):
    """Keys planted into khm-to-tha by a test, removed afterwards so that KHM's later publishes
    in this module meet a clean bucket (the sender's side has its own tests)."""
    keys: list[str] = []
    yield keys
    for key in keys:
        seaweed.client().delete_object(Bucket="khm-to-tha", Key=key)


def receipts_about(store, bucket, exchange_id) -> list[dict]:
    """Every receipt in ``bucket`` about ``exchange_id`` (whatever the receipt layout)."""
    docs = [json.loads(store.get_bytes(bucket, key, MIB)) for key in store.list_keys(bucket, "receipts/")
            if key.endswith(".json")]
    return [d for d in docs if d["exchange_id"] == exchange_id]


def audit_events(node, event):
    path = node.home / "audit" / f"{node.party}.audit.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [e for e in map(json.loads, lines) if e["event"] == event]


def assert_quarantined(node, sender, prefix, words):
    """The rejection of ``prefix`` was decided, quarantined with its reason and audited."""
    dataset_, period, eid = prefix.split("/")
    decision = json.loads((node.home / "inbound" / sender / f"{prefix}.json").read_text())
    assert decision["status"] == "rejected" and words in decision["reason"], decision
    reason = json.loads((node.home / "quarantine" / decision["quarantine"].rsplit("/", 1)[1]
                         / "reason.json").read_text())["reason"]
    assert words in reason
    assert any(e["exchange_id"] == eid and e["period"] == period and e["dataset"] == dataset_
               for e in audit_events(node, "reject"))
    assert not (node.home / "landing" / sender / prefix).exists()


def test_bucket_key_only_copied_manifest_does_not_block_genuine(nodes, tmp_path):
    khm, tha = nodes["KHM"], nodes["THA"]
    genuine, period = published(khm, CONTRACT, tmp_path)
    copies = {f"children_on_the_move/2001-01/{genuine.exchange_id}": "manifest period is",  # sorts first
              f"workers_deployed/{period}/{genuine.exchange_id}": "manifest dataset is"}
    for copy in copies:
        for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
            khm.store.client.copy_object(Bucket="khm-to-tha", Key=f"{copy}/{name}",
                                         CopySource={"Bucket": "khm-to-tha", "Key": f"{genuine.prefix}/{name}"})
    results = {f"{r.dataset}/{r.period}/{r.exchange_id}": r for r in pull(tha, "KHM")}
    assert results[genuine.prefix].status == "landed"
    for copy, words in copies.items():
        assert results[copy].status == "rejected"
        assert_quarantined(tha, "KHM", copy, words)
    assert discover(tha, "KHM") == [] and receive(tha, "KHM", genuine.prefix).status == "skipped"
    assert len(list((tha.home / "landing" / "KHM").glob(f"*/*/{genuine.exchange_id}"))) == 1
    about = receipts_about(khm.store, "tha-to-khm", genuine.exchange_id)
    assert any(d["status"] == "rejected" and d["period"] == "2001-01" for d in about)
    assert all(d["status"] == "accepted" for d in about
               if (d["dataset"], d["period"]) == ("children_on_the_move", period))


def test_partner_with_valid_keys_rollback_is_per_sender(nodes, tmp_path):
    khm, tha, mys = nodes["KHM"], nodes["THA"], nodes["MYS"]
    period = next(PERIODS)
    sent = {}
    for node in (mys, tha):
        contract = f"child_birth_registrations.{node.party.lower()}-khm"
        sent[node.party] = publish(node, dataset(contract, tmp_path, period=period), contract, period)
        assert sent[node.party].sequence == 1 == sent[node.party].revision
    assert [r.status for r in pull(khm, "MYS")] == ["landed"]
    assert [r.status for r in pull(khm, "THA")] == ["landed"]
    for party, result in sent.items():
        assert (khm.home / "landing" / party / result.prefix / "data.parquet").exists()


@pytest.mark.parametrize("case", ["foreign_contract", "own_contract_other_dataset"])
def test_partner_with_valid_keys_contract_confusion_rejected(nodes, seaweed, tmp_path, case):
    """MYS signs with its own keys a manifest under THA's contract (or its own contract for
    a dataset that contract does not cover) and writes it into its own bucket to KHM."""
    khm, tha, mys = nodes["KHM"], nodes["THA"], nodes["MYS"]
    template, period = published(tha, "returnees.tha-khm", tmp_path)
    fields = manifest_of(tha, "tha-to-khm", template.prefix)
    fields.update(sender="MYS", bucket="mys-to-khm", sender_key_id=mys.identity.signing_key.public_key.key_id,
                  exchange_id=hashlib.sha256(case.encode()).hexdigest()[:32])
    if case == "own_contract_other_dataset":
        contract = manifest_of(mys, "mys-to-khm", published(mys, "child_birth_registrations.mys-khm",
                                                            tmp_path)[0].prefix)["contract"]
        fields.update(contract=contract)
    forged = forge(seaweed, mys, fields, b"PAR1 not read", khm.public_keys("KHM").age_recipient)
    results = {r.exchange_id: r for r in pull(khm, "MYS")}
    assert results[forged.exchange_id].status == "rejected"
    words = "is from THA to KHM" if case == "foreign_contract" else "contract child_birth_registrations.mys-khm says"
    assert_quarantined(khm, "MYS", forged.prefix, words)
    [receipt] = receipts_about(mys.store, "khm-to-mys", forged.exchange_id)
    assert receipt["status"] == "rejected" and words in receipt["reason"]
    assert not any(e.get("exchange_id") == forged.exchange_id for e in audit_events(khm, "key_use"))


def test_partner_with_valid_keys_wrong_recipient_key_id_rejected_before_decrypt(nodes, seaweed, tmp_path,
                                                                                 monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    template, _ = published(khm, CONTRACT, tmp_path)
    fields = manifest_of(khm, "khm-to-tha", template.prefix)
    fields.update(exchange_id="e" * 32, revision=fields["revision"] + 1, sequence=fields["sequence"] + 1,
                  recipients=[{**fields["recipients"][0], "key_id": recipient_key_id("age1stale")}])
    forged = forge(seaweed, khm, fields, b"never decrypted", tha.public_keys("THA").age_recipient)
    monkeypatch.setattr(inbound_module.age, "decryptor", lambda *a: pytest.fail("decrypted"))
    with pytest.raises(ExchangeRejected, match="encrypted to age key"):
        receive(tha, "KHM", forged.prefix)
    assert_quarantined(tha, "KHM", forged.prefix, "encrypted to age key")


def test_bucket_key_only_replaced_ciphertext_never_decrypted(nodes, tmp_path, monkeypatch):
    """With KHM's bucket key, anyone can encrypt to THA's public key and swap the data."""
    khm, tha = nodes["KHM"], nodes["THA"]
    genuine, _ = published(khm, CONTRACT, tmp_path)
    other = io.BytesIO()
    with age.encryptor(other, [tha.public_keys("THA").age_recipient]) as sealed:
        sealed.write(b"attacker's rows")
    khm.store.put_bytes("khm-to-tha", f"{genuine.prefix}/data.parquet.age", other.getvalue())
    monkeypatch.setattr(inbound_module.age, "decryptor", lambda *a: pytest.fail("decrypted"))
    with pytest.raises(ExchangeRejected, match="ciphertext SHA-256"):
        receive(tha, "KHM", genuine.prefix)
    assert_quarantined(tha, "KHM", genuine.prefix, "ciphertext SHA-256")


ODD_IDS = ["é" * 130, "a" * 250, "0123456789abcdef\n0123456789abcdef"]


def test_bucket_key_only_odd_object_keys_do_not_block_pull(nodes, tmp_path, caplog, planted):
    khm, tha = nodes["KHM"], nodes["THA"]
    genuine, period = published(khm, CONTRACT, tmp_path)
    planted += [f"children_on_the_move/{period}/{odd}/{name}" for odd in ODD_IDS
                for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig")]
    for key in planted:
        khm.store.put_bytes("khm-to-tha", key, b"{}")
    before = len(audit_events(tha, "ignore"))
    with caplog.at_level(logging.WARNING, logger="gcmx.inbound"):
        results = pull(tha, "KHM")
    assert [(r.exchange_id, r.status) for r in results if r.period == period] == [(genuine.exchange_id, "landed")]
    notes = audit_events(tha, "ignore")[before:]
    assert sorted(n["object_sha256"] for n in notes) == sorted(hashlib.sha256(k.encode()).hexdigest()
                                                               for k in planted)
    assert len([r for r in caplog.records
                if r.name == "gcmx.inbound" and "ignored s3://khm-to-tha/" in r.getMessage()]) == len(planted)
    assert all("\n" not in n["object"] and "é" not in n["object"] for n in notes)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gcmx.inbound"):
        assert pull(tha, "KHM") == []
    assert len(audit_events(tha, "ignore")) == before + len(planted)
    assert not [r for r in caplog.records if r.name == "gcmx.inbound"]
    names = [p.name for p in tha.home.rglob("*")]
    assert not [n for n in names if "é" in n or "\n" in n or len(n) > 200]


def test_bucket_key_only_huge_manifest_bounded(nodes, tmp_path, planted):
    """A 64 MiB manifest planted with KHM's bucket key: read no further than the limit,
    rejected, and the genuine exchange of the same dataset still lands."""
    khm, tha = nodes["KHM"], nodes["THA"]
    genuine, period = published(khm, CONTRACT, tmp_path)
    huge = f"children_on_the_move/{period}/{'d' * 32}"
    planted += [f"{huge}/manifest.json", f"{huge}/manifest.json.minisig"]
    khm.store.put_bytes("khm-to-tha", f"{huge}/manifest.json", b'{"sequence": 0, "pad": "' + b" " * (64 * MIB)
                        + b'"}')
    khm.store.put_bytes("khm-to-tha", f"{huge}/manifest.json.minisig", b"x" * MIB)
    tracemalloc.start()
    try:
        order = in_publish_order(tha, "KHM", discover(tha, "KHM"))
        with pytest.raises(ExchangeRejected, match="larger than"):
            receive(tha, "KHM", huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert huge in order and peak < 8 * MIB, peak
    assert_quarantined(tha, "KHM", huge, "larger than")
    assert [(r.exchange_id, r.status) for r in pull(tha, "KHM") if r.period == period] \
        == [(genuine.exchange_id, "landed")]


def bomb(compression: str) -> bytes:
    """24 rows of one 4 MiB text value: tiny on disk, about 100 MiB once decoded."""
    value = pa.array(["a" * (4 * MIB)])
    column = pa.DictionaryArray.from_arrays(pa.array([0] * 24, pa.int32()), value)
    out = io.BytesIO()
    pq.write_table(pa.table({"REF_AREA": column}), out, compression=compression)
    return out.getvalue()


@pytest.mark.parametrize("compression, words", [("zstd", "uncompressed, over the limit"),
                                                 ("none", "decodes to more than")])
def test_partner_with_valid_keys_parquet_bomb_rejected_fast(nodes, seaweed, tmp_path, monkeypatch,
                                                            compression, words):
    khm, tha = nodes["KHM"], nodes["THA"]
    template, _ = published(khm, CONTRACT, tmp_path)
    fields = manifest_of(khm, "khm-to-tha", template.prefix)
    fields.update(exchange_id=hashlib.sha256(compression.encode()).hexdigest()[:32], rows=24,
                  revision=fields["revision"] + 1, sequence=fields["sequence"] + 1)
    forged = forge(seaweed, khm, fields, bomb(compression), tha.public_keys("THA").age_recipient)
    monkeypatch.setattr(inbound_module, "validate", lambda *a: pytest.fail("the bomb was read"))
    with pytest.raises(ExchangeRejected, match=words):
        receive(tha, "KHM", forged.prefix)
    assert_quarantined(tha, "KHM", forged.prefix, words)
    [receipt] = receipts_about(khm.store, "tha-to-khm", forged.exchange_id)
    assert receipt["status"] == "rejected"


def test_crash_after_landing_rename_retry_accepts(nodes, tmp_path, monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    genuine, _ = published(khm, CONTRACT, tmp_path)
    answer = inbound_module._answer

    def crash(*args):
        monkeypatch.setattr(inbound_module, "_answer", answer)
        raise SystemExit("killed after the landing rename")

    monkeypatch.setattr(inbound_module, "_answer", crash)
    with pytest.raises(SystemExit):
        receive(tha, "KHM", genuine.prefix)
    landed = tha.home / "landing" / "KHM" / genuine.prefix
    assert (landed / "data.parquet").exists()
    assert not (tha.home / "inbound" / "KHM" / f"{genuine.prefix}.json").exists()
    assert genuine.prefix in discover(tha, "KHM")
    result = receive(tha, "KHM", genuine.prefix)
    assert result.status == "landed" and result.path == str(landed / "data.parquet")
    assert not (tha.home / "quarantine" / genuine.exchange_id).exists()
    assert [e.get("recovered") for e in audit_events(tha, "land") if e["exchange_id"] == genuine.exchange_id] \
        == [None, True]
    [receipt] = receipts_about(khm.store, "tha-to-khm", genuine.exchange_id)
    assert receipt["status"] == "accepted"
    assert genuine.prefix not in discover(tha, "KHM")
