"""Receipts, freshness and witnessing under attack, on a real SeaweedFS.

The attacker's capability is in each test's name: ``bucket_key_only`` holds one party's S3
credentials and nothing else (a boto3 client with them, no gcmx, no signing key);
``partner_with_valid_keys`` is the partner itself, signing with its own key.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from exchange.audit.alarms import alarms_since, audit_seq
from exchange.audit.log import AuditLog, Checkpoint, publish_checkpoint
from exchange.cli import main
from exchange.clock import utc_now
from exchange.protocol.freshness import local_index
from exchange.protocol.inbound import pull
from exchange.protocol.naming import checkpoint_key, index_key, receipt_key
from exchange.protocol.outbound import publish
from exchange.protocol.receipts import collect_receipts
from exchange.report import gather
from tests.support.protocol import dataset

CONTRACT = "children_on_the_move.khm-tha"
PERIODS = (f"{year}-{month:02d}" for year in range(2000, 2010) for month in range(1, 13))


@pytest.fixture
def cli(seaweed, nodes):
    """Run ``gcmx`` as a party: ``cli("THA", "pull", "--from", "KHM")``."""
    def run(party: str, *args: str):
        cred = seaweed.credentials[party]
        env = {"GCMX_PARTY": party, "GCMX_HOME": str(nodes[party].home), "GCMX_S3_ENDPOINT": seaweed.endpoint,
               "GCMX_S3_ACCESS_KEY_ID": cred.access_key_id, "GCMX_S3_SECRET_ACCESS_KEY": cred.secret_access_key}
        return CliRunner().invoke(main, list(args), env=env)
    return run


@pytest.fixture
def published(nodes, tmp_path):
    """A fresh KHM → THA exchange in its own period."""
    period = next(PERIODS)
    return publish(nodes["KHM"], dataset(CONTRACT, tmp_path, period=period), CONTRACT, period)


def kinds(node, since: int) -> list[str]:
    return [a["kind"] for a in alarms_since(node, since)]


def test_bucket_key_only_preplanted_receipt_is_alarm(seaweed, nodes, published, cli):
    tha = nodes["THA"]
    dataset_, period, eid = published.prefix.split("/")
    attacker = seaweed.client("THA")  # THA's S3 key, not THA's signing key
    attacker.put_object(Bucket="tha-to-khm", Key=receipt_key(dataset_, period, eid), Body=b'{"status":"accepted"}')
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1, out.output
    assert "receipt-slot-taken" in out.output and f"landed   {dataset_} {period} {eid}" in out.output
    entries = AuditLog.for_home(tha.home, "THA").entries()
    alarm = next(e for e in entries if e["event"] == "alarm" and e.get("exchange_id") == eid)
    assert alarm["kind"] == "receipt-slot-taken" and alarm["status"] == "accepted"
    assert not [e for e in entries if e["event"] == "receipt" and e.get("exchange_id") == eid]
    assert kinds(tha, before) == ["receipt-slot-taken"]
    report = gather(tha.home, "THA")
    assert any(a["kind"] == "receipt-slot-taken" and a["exchange_id"] == eid for a in report["alarms"])
    again = audit_seq(tha)
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0  # alarmed once, not on every run
    assert kinds(tha, again) == []


def test_bucket_key_only_invalid_receipt_exits_1(seaweed, nodes, published, cli):
    khm = nodes["KHM"]
    pull(nodes["THA"], "KHM")
    key = receipt_key(*published.prefix.split("/"))
    attacker = seaweed.client("THA")
    body = attacker.get_object(Bucket="tha-to-khm", Key=key)["Body"].read()
    attacker.put_object(Bucket="tha-to-khm", Key=key, Body=body.replace(b'"accepted"', b'"rejected"'))
    out = cli("KHM", "receipts", "--from", "THA")
    assert out.exit_code == 1, out.output
    assert f"invalid  {published.exchange_id}" in out.output
    assert not (khm.home / "outbound" / published.exchange_id / "receipt.json").exists()
    again = cli("KHM", "receipts", "--from", "THA")  # remembered: audited once
    assert again.exit_code == 0 and published.exchange_id not in again.output
    entries = AuditLog.for_home(khm.home, "KHM").entries()
    assert len([e for e in entries if e.get("exchange_id") == published.exchange_id
                and e.get("status") == "invalid"]) == 1


def test_bucket_key_only_copied_receipt_cannot_stand_for_the_original(seaweed, nodes, published, tmp_path):
    """THA's genuine receipt for another exchange, copied under this exchange's key, is invalid."""
    khm, tha = nodes["KHM"], nodes["THA"]
    pull(tha, "KHM")
    collect_receipts(khm, "THA")
    period = next(PERIODS)
    second = publish(khm, dataset(CONTRACT, tmp_path, period=period, seed=2), CONTRACT, period)
    attacker = seaweed.client("THA")
    source = receipt_key(*published.prefix.split("/"))
    for suffix in ("", ".minisig"):  # planted before THA writes its own: THA raises an alarm
        attacker.copy_object(Bucket="tha-to-khm", Key=receipt_key(*second.prefix.split("/")) + suffix,
                             CopySource={"Bucket": "tha-to-khm", "Key": source + suffix})
    statuses = {r.exchange_id: r for r in collect_receipts(khm, "THA")}
    assert statuses[second.exchange_id].status == "invalid"  # it is about another exchange id
    assert "another exchange, prefix or manifest" in statuses[second.exchange_id].reason
    assert not (khm.home / "outbound" / second.exchange_id / "receipt.json").exists()
    before = audit_seq(tha)
    pull(tha, "KHM")
    assert kinds(tha, before) == ["receipt-slot-taken"]


def test_bucket_key_only_deleted_exchange_detected(seaweed, nodes, published, cli):
    tha = nodes["THA"]
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0
    attacker = seaweed.client("KHM")
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        attacker.delete_object(Bucket="khm-to-tha", Key=f"{published.prefix}/{name}")
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1 and "exchange-deleted" in out.output, out.output
    assert [a["exchange_id"] for a in alarms_since(tha, before)] == [published.exchange_id]
    again = audit_seq(tha)
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0 and kinds(tha, again) == []


def test_bucket_key_only_withheld_exchange_detected(seaweed, nodes, published, cli):
    tha = nodes["THA"]
    seaweed.client("KHM").delete_object(Bucket="khm-to-tha", Key=f"{published.prefix}/manifest.json.minisig")
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1 and "exchange-withheld" in out.output, out.output
    alarm = alarms_since(tha, before)[0]
    assert alarm["kind"] == "exchange-withheld" and alarm["exchange_id"] == published.exchange_id
    assert not (tha.home / "inbound" / f"{published.exchange_id}.json").exists()


def test_bucket_key_only_replaced_exchange_detected(seaweed, nodes, published, cli):
    tha = nodes["THA"]
    key = f"{published.prefix}/manifest.json"
    attacker = seaweed.client("KHM")
    body = attacker.get_object(Bucket="khm-to-tha", Key=key)["Body"].read()
    attacker.put_object(Bucket="khm-to-tha", Key=key, Body=body.replace(b'"rows":', b'"rows": '))
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1, out.output
    assert "exchange-replaced" in out.output and "rejected children_on_the_move" in out.output
    assert kinds(tha, before) == ["exchange-replaced"]


def test_bucket_key_only_copied_exchange_outside_the_index_detected(seaweed, nodes, published, tmp_path, cli):
    khm, tha = nodes["KHM"], nodes["THA"]
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0
    dataset_, period, eid = published.prefix.split("/")
    copy = f"{dataset_}/1999-01/{eid}"
    attacker = seaweed.client("KHM")
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        attacker.copy_object(Bucket="khm-to-tha", Key=f"{copy}/{name}",
                             CopySource={"Bucket": "khm-to-tha", "Key": f"{published.prefix}/{name}"})
    before = audit_seq(tha)
    cli("THA", "pull", "--from", "KHM")  # the copy never lands (skipped or rejected: receive's business)
    assert kinds(tha, before) == []  # not yet an alarm: the sender may be indexing it right now
    period = next(PERIODS)
    publish(khm, dataset(CONTRACT, tmp_path, period=period, seed=3), CONTRACT, period)
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1 and "exchange-unindexed" in out.output, out.output
    assert [(a["kind"], a["prefix"]) for a in alarms_since(tha, before)] == [("exchange-unindexed", copy)]


def test_bucket_key_only_index_rollback_detected(seaweed, nodes, published, cli):
    tha, khm = nodes["THA"], nodes["KHM"]
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0
    newest = local_index(khm, "THA")[-1].seq
    attacker = seaweed.client("KHM")
    for suffix in ("", ".minisig"):
        attacker.delete_object(Bucket="khm-to-tha", Key=index_key(newest) + suffix)
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1 and "index-rollback" in out.output, out.output
    assert kinds(tha, before) == ["index-rollback"]


def forged_checkpoint(khm, seq: int, head: str) -> tuple[bytes, bytes]:
    data = Checkpoint("KHM", seq, head, utc_now()).to_json()
    signature = khm.identity.signing_key.sign(data, f"gcmx audit checkpoint party=KHM seq={seq} head={head}")
    return data, signature


def test_bucket_key_only_partner_checkpoint_goes_backwards_is_alarm(seaweed, nodes, cli):
    khm, tha = nodes["KHM"], nodes["THA"]
    log = AuditLog.for_home(khm.home, "KHM")
    publish_checkpoint(log, khm.identity.signing_key, khm.store, ["khm-to-tha"])
    newest = publish_checkpoint(log, khm.identity.signing_key, khm.store, ["khm-to-tha"])
    before = audit_seq(tha)
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0
    witnessed = [e for e in AuditLog.for_home(tha.home, "THA").entries()[before:] if e["event"] == "witness"]
    assert witnessed and witnessed[-1]["checkpoint_seq"] == int(newest[-13:-5])
    attacker = seaweed.client("KHM")
    for suffix in ("", ".minisig"):
        attacker.delete_object(Bucket="khm-to-tha", Key=newest + suffix)
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1 and "checkpoint-backwards" in out.output, out.output
    assert kinds(tha, before) == ["checkpoint-backwards"]


def test_partner_with_valid_keys_forked_checkpoint_is_alarm(seaweed, nodes, cli):
    khm, tha = nodes["KHM"], nodes["THA"]
    log = AuditLog.for_home(khm.home, "KHM")
    key = publish_checkpoint(log, khm.identity.signing_key, khm.store, ["khm-to-tha"])
    assert cli("THA", "pull", "--from", "KHM").exit_code == 0
    seq = int(key[-13:-5])
    data, signature = forged_checkpoint(khm, seq, "ab" * 32)  # KHM re-signs a rewritten log
    khm.store.put_bytes("khm-to-tha", checkpoint_key("KHM", seq), data)
    khm.store.put_bytes("khm-to-tha", checkpoint_key("KHM", seq) + ".minisig", signature)
    before = audit_seq(tha)
    out = cli("THA", "pull", "--from", "KHM")
    assert out.exit_code == 1 and "checkpoint-fork" in out.output, out.output
    assert kinds(tha, before) == ["checkpoint-fork"]
    report = gather(tha.home, "THA")
    assert "checkpoint-fork" in {a["kind"] for a in report["alarms"]}


def test_receipts_run_witnesses_the_partner(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    log = AuditLog.for_home(tha.home, "THA")
    key = publish_checkpoint(log, tha.identity.signing_key, tha.store, ["tha-to-khm"])
    before = audit_seq(khm)
    collect_receipts(khm, "THA")
    witnessed = [e for e in AuditLog.for_home(khm.home, "KHM").entries()[before:] if e["event"] == "witness"]
    assert [(e["party_witnessed"], e["checkpoint_seq"]) for e in witnessed] == [("THA", int(key[-13:-5]))]
    assert json.loads((khm.home / "witness" / "THA.json").read_text())["heads"]
