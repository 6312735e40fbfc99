"""Red team (rt16) on publish claims: what a leaked bucket key, a partner or a careless operator can do
to ``claims/`` (exchange.protocol.claims), on the in-memory store."""

from __future__ import annotations

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
