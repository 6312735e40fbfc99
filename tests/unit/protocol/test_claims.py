"""Claim rules on the in-memory store: another machine's claim, fresh or past its lease, of the same
exchange or of another input of the period (the real server's races: tests/cluster)."""

from __future__ import annotations

import pytest

from exchange.protocol import claims
from exchange.protocol.claims import FORMAT, Claim, ExchangeBusy
from exchange.protocol.manifest import exchange_id
from exchange.protocol.naming import revision_claim_key
from exchange.protocol.outbound import publish
from exchange.storage.streams import file_sha256
from tests.unit.protocol.conftest import CONTRACT, PERIOD

BUCKET = "khm-to-tha"
LONG_AGO = "2020-01-01T00:00:00.000Z"


def plant(node, source, revision: int, claimed: str, seed_of_other: str | None = None) -> str:
    """A claim of revision ``revision`` made by KHM on another machine: of this input, or of another."""
    sha = seed_of_other or file_sha256(source)
    eid = exchange_id("KHM", "THA", "children_on_the_move", PERIOD, revision, sha)
    key = revision_claim_key("children_on_the_move", PERIOD, revision)
    assert node.store.put_if_absent(BUCKET, key, claims._signed(node, Claim(FORMAT, BUCKET, key, eid, "t", claimed,
                                                                          "elsewhere:/srv/gcmx")))
    return eid


def test_another_machine_publishing_this_exchange_makes_this_run_busy(nodes, source):
    khm = nodes["KHM"]
    plant(khm, source(), 1, claims.utc_now())
    with pytest.raises(ExchangeBusy) as busy:
        publish(khm, source(), CONTRACT, PERIOD)
    assert "another run is publishing this exchange" in busy.value.message and busy.value.transient


def test_another_machine_publishing_an_older_input_of_the_period_makes_this_run_busy(nodes, source):
    khm = nodes["KHM"]
    plant(khm, source(), 1, claims.utc_now(), seed_of_other="0" * 64)
    with pytest.raises(ExchangeBusy) as busy:
        publish(khm, source(), CONTRACT, PERIOD)
    assert "revision 1 of this period" in busy.value.message


def test_a_claim_past_its_lease_is_taken_over_for_this_exchange(nodes, source):
    khm = nodes["KHM"]
    eid = plant(khm, source(), 1, LONG_AGO)
    done = publish(khm, source(), CONTRACT, PERIOD)
    assert (done.exchange_id, done.revision, done.created_now) == (eid, 1, True)


def test_a_claim_past_its_lease_of_another_input_is_skipped(nodes, source):
    khm = nodes["KHM"]
    plant(khm, source(), 1, LONG_AGO, seed_of_other="0" * 64)
    done = publish(khm, source(), CONTRACT, PERIOD)
    assert done.revision == 2 and done.created_now


def test_revisions_and_sequences_are_claimed_upwards(nodes, source):
    khm = nodes["KHM"]
    first = publish(khm, source(), CONTRACT, PERIOD)
    second = publish(khm, source(seed=2), CONTRACT, PERIOD)
    assert (first.revision, second.revision) == (1, 2) and second.sequence > first.sequence
    keys = sorted(k for k in khm.store.list_keys(BUCKET, "claims/"))
    assert keys == ["claims/children_on_the_move/2026-10/00000001.json",
                    "claims/children_on_the_move/2026-10/00000002.json",
                    f"claims/sequence/{first.sequence:08d}.json", f"claims/sequence/{second.sequence:08d}.json"]


def test_the_dags_publish_timeout_ends_a_run_well_within_its_claims_lease():
    from exchange.orchestration.airflow_glue import PUBLISH_TIMEOUT
    from exchange.protocol.claims import LEASE

    assert PUBLISH_TIMEOUT * 1.5 <= LEASE


def test_a_busy_publish_retries_until_the_run_holding_it_must_have_ended():
    from exchange.orchestration.airflow_glue import DEFAULT_ARGS, PUBLISH_RETRIES, PUBLISH_TIMEOUT

    delays = [min(DEFAULT_ARGS["retry_delay"] * DEFAULT_ARGS["retry_exponential_backoff"] ** n,
                  DEFAULT_ARGS["max_retry_delay"]) for n in range(PUBLISH_RETRIES)]
    assert sum(delays, DEFAULT_ARGS["retry_delay"] * 0) > PUBLISH_TIMEOUT
