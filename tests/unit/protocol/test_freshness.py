"""Freshness and witnessing on the in-memory store (twins of the alarm tests in
tests/integration/protocol/test_attacks_receipts_freshness.py and test_attacks_outsider.py).

The sender's signed index of its exchanges and its signed audit checkpoints let the recipient
notice what a bucket key alone can do: withhold, delete, replace or copy an exchange, cut the
index, roll a checkpoint back. Each finding is one ``alarm`` audit entry, raised once.
"""

from __future__ import annotations

from exchange.audit.checkpoint import Checkpoint
from exchange.audit.log import AuditLog, publish_checkpoint
from exchange.clock import utc_now
from exchange.protocol.freshness import local_index, sync_index
from exchange.protocol.freshness_check import watch_partner
from exchange.protocol.inbound import pull
from exchange.protocol.limits import MANIFEST_MAX
from exchange.protocol.naming import checkpoint_key, index_key
from exchange.protocol.sent import write_record
from tests.support.protocol import copy_exchange, events, forge, manifest_fields

CONTRACT = "children_on_the_move.khm-tha"
BUCKET = "khm-to-tha"


def kinds(node, partner: str = "KHM") -> list[str]:
    """The alarms one pull's checks raise now."""
    return [a["kind"] for a in watch_partner(node, partner)]


def test_genuine_bucket_raises_no_alarm(nodes, published):
    assert kinds(nodes["THA"]) == [] and kinds(nodes["THA"]) == []


def test_bucket_key_only_withheld_exchange_is_an_alarm_once(nodes, published):
    tha = nodes["THA"]
    del nodes["KHM"].store.objects[BUCKET][f"{published.prefix}/manifest.json.minisig"]
    assert kinds(tha) == ["exchange-withheld"] and kinds(tha) == []
    [alarm] = events(tha, "alarm", kind="exchange-withheld")
    assert alarm["exchange_id"] == published.exchange_id


def test_bucket_key_only_deleted_exchange_is_an_alarm_once(nodes, published):
    tha = nodes["THA"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        del nodes["KHM"].store.objects[BUCKET][f"{published.prefix}/{name}"]
    assert kinds(tha) == ["exchange-deleted"] and kinds(tha) == []


def test_bucket_key_only_replaced_manifest_is_an_alarm(nodes, published):
    khm, tha = nodes["KHM"], nodes["THA"]
    key = f"{published.prefix}/manifest.json"
    khm.store.put_bytes(BUCKET, key, khm.store.get_bytes(BUCKET, key, MANIFEST_MAX).replace(b'"rows":', b'"rows": '))
    assert kinds(tha) == ["exchange-replaced"]


def test_bucket_key_only_copied_exchange_outside_the_index_is_an_alarm_once_the_index_moves_on(nodes, published):
    khm, tha = nodes["KHM"], nodes["THA"]
    assert kinds(tha) == []
    copy = f"children_on_the_move/1999-01/{published.exchange_id}"
    copy_exchange(khm.store, published.prefix, copy)
    assert kinds(tha) == []  # not yet: the sender may be indexing it right now
    later = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, "2026-11", "b" * 32, sequence=2))
    write_record(khm, later)
    sync_index(khm, "THA")
    raised = watch_partner(tha, "KHM")
    assert [(a["kind"], a["prefix"]) for a in raised] == [("exchange-unindexed", copy)]


def test_bucket_key_only_index_rollback_is_an_alarm(nodes, published):
    khm, tha = nodes["KHM"], nodes["THA"]
    assert kinds(tha) == []
    newest = local_index(khm, "THA")[-1].seq
    for suffix in ("", ".minisig"):
        del khm.store.objects[BUCKET][index_key(newest) + suffix]
    assert kinds(tha) == ["index-rollback"]


def test_bucket_key_only_taken_index_slot_is_an_alarm_once_and_filled_once_cleared(nodes, published):
    khm = nodes["KHM"]
    later = forge(khm, nodes["THA"], manifest_fields(khm, nodes["THA"], CONTRACT, "2026-11", "b" * 32, sequence=2))
    write_record(khm, later)
    slot = index_key(len(local_index(khm, "THA")) + 1)
    khm.store.put_bytes(BUCKET, slot, b"junk")
    sync_index(khm, "THA")
    sync_index(khm, "THA")
    assert len(events(khm, "alarm", kind="index-slot-taken")) == 1
    del khm.store.objects[BUCKET][slot]
    assert [e.exchange_id for e in sync_index(khm, "THA")][-1] == later.exchange_id
    assert khm.store.exists(BUCKET, slot) and khm.store.exists(BUCKET, slot + ".minisig")


def test_bucket_key_only_partner_checkpoint_going_backwards_is_an_alarm(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    log = AuditLog.for_home(khm.home, "KHM")
    publish_checkpoint(log, khm.identity.signing_key, khm.store, [BUCKET])
    newest = publish_checkpoint(log, khm.identity.signing_key, khm.store, [BUCKET])
    assert kinds(tha) == []
    assert events(tha, "witness")[-1]["checkpoint_seq"] == int(newest[-13:-5])
    for suffix in ("", ".minisig"):
        del khm.store.objects[BUCKET][newest + suffix]
    assert kinds(tha) == ["checkpoint-backwards"]


def test_partner_with_valid_keys_forked_checkpoint_is_an_alarm(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    log = AuditLog.for_home(khm.home, "KHM")
    key = publish_checkpoint(log, khm.identity.signing_key, khm.store, [BUCKET])
    assert kinds(tha) == []
    seq = int(key[-13:-5])
    forked = Checkpoint("KHM", seq, "ab" * 32, utc_now())  # a rewritten log
    data = forked.to_json()
    assert forked.comment() == f"gcmx audit checkpoint party=KHM seq={seq} head={'ab' * 32}"
    khm.store.put_bytes(BUCKET, checkpoint_key("KHM", seq), data)
    khm.store.put_bytes(BUCKET, checkpoint_key("KHM", seq) + ".minisig", khm.identity.signing_key.sign(
        data, forked.comment()))
    assert kinds(tha) == ["checkpoint-fork"]
