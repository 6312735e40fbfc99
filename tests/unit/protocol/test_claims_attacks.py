"""Red team (rt16) on publish claims: what a leaked bucket key, a partner or a careless operator can do
to ``claims/`` (exchange.protocol.claims), on the in-memory store."""

from __future__ import annotations

from exchange.audit.log import AuditLog
from exchange.protocol import claims
from exchange.protocol.manifest import exchange_id
from exchange.protocol.naming import revision_claim_key, sequence_claim_key
from exchange.protocol.outbound import publish
from tests.unit.protocol.conftest import CONTRACT, PERIOD

BUCKET = "khm-to-tha"
DATASET = "children_on_the_move"


def test_bucket_key_only_deeply_nested_claims_are_skipped_with_an_alarm_not_a_traceback(nodes, store, source):
    nested = b"[" * 2000 + b"]" * 2000  # within CLAIM_MAX; deeper than the JSON decoder's recursion limit
    store.objects[BUCKET][revision_claim_key(DATASET, PERIOD, 1)] = nested
    store.objects[BUCKET][sequence_claim_key(1)] = nested
    done = publish(nodes["KHM"], source(), CONTRACT, PERIOD)
    assert (done.revision, done.sequence, done.created_now) == (2, 2, True)


def _claim_elsewhere(node, monkeypatch, bucket: str, key: str, eid: str) -> bytes:
    """A genuine claim KHM made just now on another machine, in ``bucket``: the bytes it stored."""
    with monkeypatch.context() as patched:
        patched.setattr(claims, "_holder", lambda node: "elsewhere:/srv/gcmx")
        assert claims._create(node, bucket, key, eid, "t")
    return node.store.get_bytes(bucket, key, claims.CLAIM_MAX)


def test_bucket_key_only_a_claim_copied_from_another_direction_is_not_obeyed(nodes, store, source, monkeypatch):
    khm = nodes["KHM"]
    key = revision_claim_key(DATASET, PERIOD, 1)
    to_mys = exchange_id("KHM", "MYS", DATASET, PERIOD, 1, "1" * 64)
    store.objects[BUCKET][key] = _claim_elsewhere(khm, monkeypatch, "khm-to-mys", key, to_mys)  # copied over
    done = publish(khm, source(), CONTRACT, PERIOD)  # not ExchangeBusy for the lease's two hours
    assert (done.revision, done.created_now) == (2, True)
    assert any(e.get("event") == "alarm" and key in e.get("where", "")
               for e in AuditLog.for_home(khm.home, "KHM").entries())
