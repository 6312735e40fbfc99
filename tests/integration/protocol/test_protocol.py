"""The exchange protocol end to end on a real SeaweedFS: publish, pull, receipts, audit."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from exchange.audit.log import verify_log
from exchange.contract.model import contracts_between
from exchange.protocol.inbound import ExchangeRejected, pull, receive
from exchange.protocol.outbound import ContractBreach, publish
from exchange.protocol.receipts import collect_receipts
from tests.support.protocol import dataset


def test_every_dataset_both_ways_lands_with_receipts(nodes, tmp_path):
    khm, tha = nodes["KHM"], nodes["THA"]
    for sender, recipient in ((khm, tha), (tha, khm)):
        sent = {}
        for contract in contracts_between(sender.party, recipient.party):
            src = dataset(contract.id, tmp_path, seed=3)
            result = publish(sender, src, contract.id, "2026-10")
            assert result.created_now
            sent[result.exchange_id] = contract
        results = pull(recipient, sender.party)
        assert {r.exchange_id for r in results} == set(sent)
        assert all(r.status == "landed" for r in results), [r.reason for r in results]
        for r in results:
            assert pq.read_table(r.path).num_rows == r.rows
        receipts = collect_receipts(sender, recipient.party)
        assert {r.exchange_id: r.status for r in receipts} == {e: "accepted" for e in sent}
    for node in nodes.values():
        verdict = verify_log(node.home / "audit" / f"{node.party}.audit.jsonl")
        assert verdict.ok, verdict.problems


def test_publish_is_idempotent(nodes, tmp_path):
    src = dataset("children_on_the_move.khm-tha", tmp_path, period="2026-09", seed=5)
    first = publish(nodes["KHM"], src, "children_on_the_move.khm-tha", "2026-09")
    again = publish(nodes["KHM"], src, "children_on_the_move.khm-tha", "2026-09")
    assert first.exchange_id == again.exchange_id and not again.created_now
    keys = list(nodes["KHM"].store.list_keys("khm-to-tha", first.prefix))
    assert len(keys) == 3


def test_contract_breach_sends_nothing_and_quarantines(nodes, tmp_path):
    src = dataset("children_on_the_move.khm-tha", tmp_path, period="2026-08", violations=["unknown_code"])
    with pytest.raises(ContractBreach) as err:
        publish(nodes["KHM"], src, "children_on_the_move.khm-tha", "2026-08")
    assert "children_on_the_move" in str(err.value) and "quarantine" in str(err.value)
    assert list(nodes["KHM"].store.list_keys("khm-to-tha", "children_on_the_move/2026-08/")) == []
    folders = list((nodes["KHM"].home / "quarantine").glob("children_on_the_move.khm-tha-2026-08-*"))
    assert folders and (folders[0] / "reason.json").exists() and (folders[0] / "input.parquet").exists()


def test_rollback_and_replay_are_refused(nodes, tmp_path):
    khm, tha = nodes["KHM"], nodes["THA"]
    old = publish(khm, dataset("children_on_the_move.khm-tha", tmp_path, "2026-07", seed=7),
                  "children_on_the_move.khm-tha", "2026-07")
    new = publish(khm, dataset("children_on_the_move.khm-tha", tmp_path, "2026-07", seed=8),
                  "children_on_the_move.khm-tha", "2026-07")
    assert (old.revision, new.revision) == (1, 2)
    assert receive(tha, "KHM", new.prefix).status == "landed"
    with pytest.raises(ExchangeRejected) as err:
        receive(tha, "KHM", old.prefix)
    assert "not newer" in str(err.value)
    assert receive(tha, "KHM", new.prefix).status == "skipped"
    reason = json.loads((tha.home / "quarantine" / old.exchange_id / "reason.json").read_text())
    assert "revision 1" in reason["reason"]


def test_two_revisions_between_pulls_land_in_publishing_order(nodes, tmp_path):
    khm, tha = nodes["KHM"], nodes["THA"]
    first = publish(khm, dataset("children_on_the_move.khm-tha", tmp_path, "2026-06", seed=11),
                    "children_on_the_move.khm-tha", "2026-06")
    second = publish(khm, dataset("children_on_the_move.khm-tha", tmp_path, "2026-06", seed=12),
                     "children_on_the_move.khm-tha", "2026-06")
    landed = [r.exchange_id for r in pull(tha, "KHM") if r.period == "2026-06" and r.status == "landed"]
    assert landed == [first.exchange_id, second.exchange_id]


def test_breach_found_while_uploading_leaves_nothing_in_the_bucket(nodes, tmp_path):
    """Protection accepts an extra column, validation does not: the upload is aborted."""
    src = dataset("children_on_the_move.khm-tha", tmp_path, period="2026-05", violations=["extra_column"])
    with pytest.raises(ContractBreach):
        publish(nodes["KHM"], src, "children_on_the_move.khm-tha", "2026-05")
    assert list(nodes["KHM"].store.list_keys("khm-to-tha", "children_on_the_move/2026-05/")) == []
    uploads = nodes["KHM"].store.client.list_multipart_uploads(Bucket="khm-to-tha").get("Uploads", [])
    assert not [u for u in uploads if u["Key"].startswith("children_on_the_move/2026-05/")]
