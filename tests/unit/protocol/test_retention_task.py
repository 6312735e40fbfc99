"""The gcmx_retention DAG's task function without Airflow, on the in-memory store, with a moved
clock: it deletes what expired, fails visibly on an overdue confirmation and retries when the
store is down."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exchange import clock
from exchange.errors import StoreUnavailable
from exchange.orchestration.retention_tasks import RetentionCheckFailed, apply_retention_task
from exchange.protocol.inbound import pull
from exchange.protocol.receipts import collect_receipts

AFTER = timedelta(days=5 * 365 + 3)


@pytest.fixture
def configured(nodes, published, monkeypatch):
    """THA landed KHM's exchange, KHM has the receipt; the task's settings are KHM's or THA's."""
    khm, tha = nodes["KHM"], nodes["THA"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    assert collect_receipts(khm, "THA")

    def as_party(node):
        monkeypatch.setenv("GCMX_PARTY", node.party)
        monkeypatch.setenv("GCMX_HOME", str(node.home))
        return node.store.client

    return khm, tha, as_party


def test_the_task_deletes_on_both_sides_and_the_sender_confirms(configured, published):
    khm, tha, as_party = configured
    with clock.shifted(AFTER):
        assert apply_retention_task(as_party(khm), dry_run=True)["deleted"] == [published.exchange_id]
        assert apply_retention_task(as_party(tha))["deleted"] == [published.exchange_id]
        done = apply_retention_task(as_party(khm))
    assert done["deleted"] == [published.exchange_id] and done["confirmed"] == 1 and done["unconfirmed"] == 0


def test_the_task_fails_visibly_when_the_partner_never_confirms(configured):
    khm, _, as_party = configured
    with clock.shifted(AFTER + timedelta(days=8)), pytest.raises(RetentionCheckFailed, match="overdue"):
        apply_retention_task(as_party(khm))


def test_the_task_asks_for_a_retry_when_the_store_is_down(configured, store):
    khm, _, as_party = configured
    client = as_party(khm)
    store.server.down = True
    with clock.shifted(AFTER), pytest.raises(StoreUnavailable):
        apply_retention_task(client)
