"""The plain-Python side of the DAGs: exchange.orchestration.tasks and the contract terms DAG building reads."""

from __future__ import annotations

from datetime import date

import pytest

from exchange.errors import ContractError, StoreUnavailable
from exchange.orchestration.airflow_glue import DEFAULT_ARGS, contract_terms, partners
from exchange.orchestration.tasks import (
    awaiting_receipt,
    node_for,
    outbox_path,
    previous_period,
    suppressed_count,
    terminal_as_flag,
)
from exchange.settings import PROJECT_ROOT, load_settings
from tests.support.report_home import RECORDS_DISCLOSURE, make_manifest, validation_summary


@pytest.mark.parametrize(("kind", "day", "period"), [
    ("monthly", date(2026, 3, 5), "2026-02"), ("monthly", date(2026, 1, 5), "2025-12"),
    ("quarterly", date(2026, 4, 1), "2026-Q1"), ("quarterly", date(2026, 2, 1), "2025-Q4"),
])
def test_previous_period(kind, day, period):
    assert previous_period(kind, day) == period


def test_terminal_errors_become_a_flag_transient_ones_raise():
    @terminal_as_flag
    def breach() -> dict:
        raise ContractError("dataset x breaks contract y", hint="fix the file")

    @terminal_as_flag
    def outage() -> dict:
        raise StoreUnavailable("s3://b: unreachable")

    assert breach() == {"failed": True, "kind": "ContractError", "error": "dataset x breaks contract y",
                        "hint": "fix the file"}
    with pytest.raises(StoreUnavailable):
        outage()


def test_suppressed_count_adds_cells_or_records():
    assert suppressed_count({"cellsSuppressed": 7}) == 7  # the one count the partner sees too
    assert suppressed_count({"recordsSuppressed": 4, "valuesSuppressed": 9}) == 4
    assert suppressed_count({}) == 0


def test_outbox_path_and_missing_source_is_terminal(tmp_path, monkeypatch):
    from exchange.orchestration.tasks import protect_outbound

    monkeypatch.setenv("GCMX_PARTY", "KHM")
    monkeypatch.setenv("GCMX_HOME", str(tmp_path))
    settings = load_settings()
    assert outbox_path(settings, "workers_deployed.khm-tha", "2026-10") == \
        tmp_path / "outbox" / "workers_deployed.khm-tha" / "2026-10.parquet"
    result = protect_outbound(None, contract_id="workers_deployed.khm-tha", period="2026-10", source=None)
    assert result["failed"] and result["kind"] == "NotFound" and "2026-10.parquet" in result["error"]


def test_partners_owing_receipts(tmp_path):
    node = node_for(None, load_settings(party="KHM", home=tmp_path))
    for eid, recipient, done in (("e1", "THA", False), ("e2", "MYS", True)):
        folder = node.folder("outbound") / eid
        folder.mkdir()
        record = make_manifest("KHM", recipient, f"a.khm-{recipient.lower()}", "2026-10", 1, 1, 3,
                               RECORDS_DISCLOSURE, validation_summary(f"a.khm-{recipient.lower()}", 3))
        (folder / "manifest.json").write_bytes(record.to_json())
        if done:
            (folder / "receipt.json").write_text("{}")
    assert awaiting_receipt(node) == ["THA"]


def test_contract_terms_drive_the_dag_factory():
    terms = {t.id: t for t in contract_terms(PROJECT_ROOT / "contracts")}
    deployed = terms["workers_deployed.khm-tha"]
    assert (deployed.sender, deployed.recipients, deployed.period) == ("KHM", ("THA",), "monthly")
    assert len(deployed.schedule.split()) == 5
    assert deployed.dag_suffix == "workers_deployed_khm_tha"
    assert partners("KHM", list(terms.values())) == ["KOR", "MYS", "THA"]
    assert partners("THA", list(terms.values())) == ["KHM"]


def test_default_retry_policy():
    assert DEFAULT_ARGS["retries"] >= 2 and DEFAULT_ARGS["retry_exponential_backoff"] > 1
