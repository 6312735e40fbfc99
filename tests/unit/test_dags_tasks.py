"""The plain-Python side of the DAGs: exchange.orchestration.tasks, the contract terms DAG building
reads, and the one place (airflow_glue.run) where typed errors become Airflow's."""

from __future__ import annotations

import json
from datetime import date

import pytest

from exchange.errors import ContractError, NotFound, StoreUnavailable
from exchange.orchestration import airflow_glue
from exchange.orchestration.airflow_glue import DEFAULT_ARGS, contract_terms, partners
from exchange.orchestration.tasks import (
    awaiting_receipt,
    node_for,
    outbox_path,
    previous_period,
    record_outbound,
    suppressed_count,
)
from exchange.settings import PROJECT_ROOT, load_settings
from tests.support.report_home import RECORDS_DISCLOSURE, make_manifest, validation_summary


@pytest.mark.parametrize(("kind", "day", "period"), [
    ("monthly", date(2026, 3, 5), "2026-02"), ("monthly", date(2026, 1, 5), "2025-12"),
    ("quarterly", date(2026, 4, 1), "2026-Q1"), ("quarterly", date(2026, 2, 1), "2025-Q4"),
])
def test_previous_period(kind, day, period):
    assert previous_period(kind, day) == period


def test_terminal_errors_fail_the_task_transient_ones_retry(monkeypatch):
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    monkeypatch.setattr(airflow_glue, "use_identity_connection", lambda: None)

    def breach() -> dict:
        raise ContractError("dataset x breaks contract y", hint="fix the file")

    def outage() -> dict:
        raise StoreUnavailable("s3://b: unreachable")

    with pytest.raises(AirflowFailException, match="breaks contract y — fix the file"):
        airflow_glue.run(breach, s3=False)
    with pytest.raises(AirflowException, match="unreachable") as retried:
        airflow_glue.run(outage, s3=False)
    assert not isinstance(retried.value, AirflowFailException)  # Airflow retries it with backoff
    with pytest.raises(AirflowFailException, match="unexpected TypeError in <lambda>: a bug, not retried"):
        airflow_glue.run(lambda: None + 1, s3=False)  # a bug fails at once: retrying repeats it
    assert airflow_glue.run(lambda value: {"value": value}, s3=False, value=1) == {"value": 1}


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
    with pytest.raises(NotFound, match="2026-10.parquet"):
        protect_outbound(None, contract_id="workers_deployed.khm-tha", period="2026-10", source=None)


def test_record_is_a_summary_of_what_publish_returned():
    published = {"exchange_id": "e1", "bucket": "khm-to-tha", "prefix": "d/2026-10/e1", "rows": 9,
                 "revision": 1, "sequence": 1, "created_now": True, "validation": {"success": True},
                 "disclosure": {"cellsSuppressed": 2}}
    assert record_outbound(published) == {"exchange_id": "e1", "bucket": "khm-to-tha", "prefix": "d/2026-10/e1",
                                          "rows": 9, "revision": 1, "new": True, "validation": "passed",
                                          "suppressed": 2}


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


def test_staged_protection_is_used_only_for_the_input_it_belongs_to(tmp_path):
    from types import SimpleNamespace

    from exchange.protocol.staged import load_prepared
    from exchange.storage.streams import file_sha256

    record = tmp_path / "0123456789abcdef.json"
    record.with_suffix(".parquet").write_bytes(b"protected bytes")
    record.write_text(json.dumps({"source_sha256": "a" * 64, "contract_hash": "h1", "rows": 3,
                                  "protected_sha256": file_sha256(record.with_suffix(".parquet")),
                                  "disclosure": {}, "for_partner": {}}))
    contract = SimpleNamespace(hash="h1")
    passed = {"success": True, "contract_hash": "h1"}
    bound = file_sha256(record)  # what the protect task handed on through Airflow

    def load(validation=passed, validated="a" * 64, record_sha256=bound):
        return load_prepared(record, record_sha256, validation, validated)

    assert load().matches("a" * 64, contract)
    assert not load().matches("b" * 64, contract)  # the input changed
    assert not load(validated="c" * 64).matches("a" * 64, contract)  # validated another file
    assert not load({**passed, "success": False}).matches("a" * 64, contract)
    assert not load().matches("a" * 64, SimpleNamespace(hash="h2"))
    assert load(record_sha256=None) is None
    record.with_suffix(".parquet").write_bytes(b"edited bytes")
    assert not load().matches("a" * 64, contract)
    # a local user (or a bug) rewrites both files consistently: the record no longer has the
    # hash the protect task returned, so nothing staged is used
    record.write_text(json.dumps({"source_sha256": "a" * 64, "contract_hash": "h1", "rows": 3,
                                  "protected_sha256": file_sha256(record.with_suffix(".parquet")),
                                  "disclosure": {}, "for_partner": {}}))
    assert load() is None
    assert load_prepared(None, bound, passed, "a" * 64) is None
    assert load_prepared(tmp_path / "gone.json", bound, passed, "a") is None


def test_a_contract_is_ready_only_with_both_signatures_and_both_keys(tmp_path):
    terms = {t.id: t for t in contract_terms(PROJECT_ROOT / "contracts")}["workers_deployed.khm-kor"]
    home, keyring = tmp_path / "home", tmp_path / "keyring"
    (home / "agreements").mkdir(parents=True)
    keyring.mkdir()
    (home / "agreements" / f"{terms.id}@{terms.version}.KHM.minisig").write_text("sig")
    for suffix in (".age.pub", ".minisign.pub"):
        (keyring / f"KHM{suffix}").write_text("key")
    ready, (missing,) = airflow_glue.ready_terms([terms], home, keyring)
    assert ready == [] and missing.since is None
    assert missing.reason == (f"KOR has not signed ({terms.id}@{terms.version}.KOR.minisig missing); "
                              f"no age recipient of KOR in {keyring}; no minisign public key of KOR in {keyring}")
    (home / "agreements" / f"{terms.id}@{terms.version}.KOR.minisig").write_text("sig")
    for suffix in (".age.pub", ".minisign.pub"):
        (keyring / f"KOR{suffix}").write_text("key")
    assert airflow_glue.readiness(terms, home, keyring).reason is None
    assert airflow_glue.readiness(terms, home, keyring).since.tzinfo is not None


@pytest.mark.parametrize(("kind", "good", "bad"), [
    ("monthly", "2026-10", ["October 2026", "2026-13", "2026-Q4", "2026-10-01"]),
    ("quarterly", "2026-Q4", ["2026-10", "Q4 2026", "2026-Q5"]),
])
def test_period_param_and_task_refuse_what_the_cli_refuses(kind, good, bad):
    import re

    from exchange.orchestration.tasks import require_period

    words, schema = airflow_glue.period_param(kind, "c.khm-tha")
    assert "contract c.khm-tha expects periods like" in words and schema["$comment"] == words
    assert re.search(schema["pattern"], good) and require_period(kind, good, "c.khm-tha") == good
    for value in bad:
        assert not re.search(schema["pattern"], value)
        with pytest.raises(ContractError, match=f"period '{value}' is not a {kind} period") as caught:
            require_period(kind, value, "c.khm-tha")
        assert "contract c.khm-tha expects periods like" in caught.value.hint


def test_library_loggers_are_quieted_and_a_failure_is_logged_last(caplog):
    import logging

    logging.getLogger("botocore").setLevel(logging.DEBUG)
    with pytest.raises(Exception, match="nothing here"):
        airflow_glue.run(lambda: (_ for _ in ()).throw(NotFound("nothing here", hint="put it there")), s3=False)
    assert logging.getLogger("botocore").level == logging.WARNING
    with caplog.at_level(logging.ERROR, logger="gcmx"):
        airflow_glue.log_failure({"exception": RuntimeError("no dataset\n  to send"),
                                  "task_instance": type("TI", (), {"task_id": "validate"})()})
    assert caplog.records[-1].getMessage() == "gcmx task validate FAILED: no dataset to send"


def test_only_a_late_scheduled_run_is_skipped():
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowSkipException

    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def dag_run(kind: str, due: datetime, clear_number: int = 0):
        return SimpleNamespace(run_type=kind, run_after=due, start_date=now, clear_number=clear_number)

    with pytest.raises(AirflowSkipException, match="started 10 days, 0:00:00 late .*nothing sent; trigger"):
        airflow_glue.skip_late_scheduled_run(dag_run("scheduled", now - timedelta(days=10)))
    airflow_glue.skip_late_scheduled_run(dag_run("scheduled", now - timedelta(minutes=3)))  # on time
    airflow_glue.skip_late_scheduled_run(dag_run("manual", now - timedelta(days=10)))  # asked for
    airflow_glue.skip_late_scheduled_run(dag_run("scheduled", now - timedelta(days=10), clear_number=1))
