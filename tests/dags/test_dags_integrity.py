"""DagBag integrity and policy for each party: no import errors, the expected DAGs, and every
DAG with tags, owners, doc_md, catchup off and retries ≥ 2 with exponential backoff.

KHM and THA are provisioned as the demo does (keys, keyrings, both signatures on their
contracts); MYS and KOR are not, so their contracts are not in force and get no DAG. Every
DAG's next run, as the scheduler computes it for a DAG without runs (the core timetable's
``next_dagrun_info`` with the DAG's start date and catchup), is in the future: unpausing starts
nothing.

The DagBag is filled in a child process with its own AIRFLOW_HOME and GCMX_PARTY, as
Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exchange.devkit.bootstrap import provision
from exchange.protocol.naming import AGREEMENTS
from exchange.settings import PROJECT_ROOT

PROBE = """
import json, sys
from datetime import datetime, timezone
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction
bag = DagBag(dag_folder=sys.argv[1])
dags = {}
now = datetime.now(timezone.utc)
for dag_id, dag in bag.dags.items():
    first = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(dag.start_date, None, dag.catchup))
    dags[dag_id] = {
        "first_run_in_future": first is None or first.run_after > now,
        "period_param": dag.params.get_param("period").schema if "period" in dag.params else None,
        "tags": sorted(dag.tags), "catchup": dag.catchup, "doc_md": dag.doc_md or "",
        "owners": sorted({t.owner for t in dag.tasks}), "schedule": type(dag.timetable).__name__,
        "retries": min(t.retries for t in dag.tasks),
        "backoff": min(float(t.retry_exponential_backoff) for t in dag.tasks),
        "tasks": sorted(t.task_id for t in dag.tasks),
        "timeouts": {t.task_id: t.execution_timeout.total_seconds() for t in dag.tasks if t.execution_timeout},
    }
heavy = [m for m in ("pyarrow", "great_expectations", "pandas", "exchange.protocol.node") if m in sys.modules]
print("PROBE " + json.dumps({"errors": bag.import_errors, "dags": dags, "heavy": heavy}))
"""

EXPECTED = {  # no DAG towards or from MYS and KOR: no keys of theirs, no signatures
    "KHM": {"gcmx_outbound_workers_deployed_khm_tha", "gcmx_outbound_children_on_the_move_khm_tha",
            "gcmx_inbound_tha", "gcmx_watch_tha", "gcmx_receipts_audit", "gcmx_retention"},
    "THA": {"gcmx_outbound_workers_registered_tha_khm", "gcmx_outbound_child_birth_registrations_tha_khm",
            "gcmx_outbound_children_on_the_move_tha_khm", "gcmx_outbound_returnees_tha_khm",
            "gcmx_inbound_khm", "gcmx_watch_khm", "gcmx_receipts_audit", "gcmx_retention"},
}


def fill_dagbag(party: str, airflow_home, gcmx_home=None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCMX_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(airflow_home), AIRFLOW__CORE__LOAD_EXAMPLES="False", GCMX_PARTY=party,
               AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags"))
    if gcmx_home:
        env["GCMX_HOME"] = str(gcmx_home)
    done = subprocess.run([sys.executable, "-c", PROBE, str(PROJECT_ROOT / "dags")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stderr[-4000:]
    return json.loads(lines[-1].removeprefix("PROBE "))


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> dict[str, Path]:
    """KHM and THA provisioned (keys, keyrings, both signatures); MYS and KOR absent."""
    return provision(tmp_path_factory.mktemp("parties"), ("KHM", "THA"), [("KHM", "THA")])


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def bag(request, homes, tmp_path_factory) -> tuple[str, dict]:
    party = request.param
    return party, fill_dagbag(party, tmp_path_factory.mktemp(f"airflow_{party}"), homes[party])


def test_no_import_errors_and_expected_dags(bag):
    party, found = bag
    assert found["errors"] == {}
    assert set(found["dags"]) == EXPECTED[party]


def test_every_dag_follows_the_policy(bag):
    _, found = bag
    for dag_id, dag in found["dags"].items():
        assert "gcmx" in dag["tags"] and len(dag["tags"]) >= 2, dag_id
        assert dag["catchup"] is False, dag_id
        assert len(dag["doc_md"]) > 200 and "###" in dag["doc_md"], dag_id
        assert dag["owners"] == ["gcmx-data-office"], dag_id
        assert dag["retries"] >= 2 and dag["backoff"] > 1, dag_id


def test_dags_are_wired_as_designed(bag):
    _, found = bag
    for dag_id, dag in found["dags"].items():
        if dag_id.startswith("gcmx_outbound_"):
            assert dag["tasks"] == ["protect", "publish", "record", "validate"]
            assert 0 < dag["timeouts"]["publish"] <= 3600  # within the claims' lease (2 h)
            assert dag["schedule"] == "CronTriggerTimetable"
        elif dag_id.startswith("gcmx_inbound_"):
            assert dag["tasks"] == ["discover", "receive"]
            assert dag["schedule"] == "AssetOrTimeSchedule"
    assert found["dags"]["gcmx_receipts_audit"]["tasks"] == [
        "build_report", "collect_receipts", "publish_checkpoint", "verify_audit_chain"]


def test_parsing_stays_light(bag):
    _, found = bag
    assert found["heavy"] == []


def test_no_party_configured_means_no_dags(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCMX_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path), PYTHONPATH=str(PROJECT_ROOT / "dags"))
    done = subprocess.run([sys.executable, "-c", "import gcmx_exchange as m; print(len(m.TERMS))"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.stdout.strip().endswith("0"), done.stderr[-2000:]


def test_unpausing_starts_no_run(bag):
    _, found = bag
    for dag_id, dag in found["dags"].items():
        assert dag["catchup"] is False, dag_id
        assert dag["first_run_in_future"], f"{dag_id} would run at once for a past schedule point"


def test_period_param_has_the_contracts_pattern(bag):
    _, found = bag
    for dag_id, dag in found["dags"].items():
        if dag_id.startswith("gcmx_outbound_"):
            schema = dag["period_param"]
            assert schema["type"] == ["null", "string"] and "expects periods like" in schema["$comment"]
            assert re.search(schema["pattern"], "2026-10" if "Q" not in schema["pattern"] else "2026-Q4")
            assert not re.search(schema["pattern"], "October 2026")


def test_no_dag_for_a_contract_not_in_force(homes, tmp_path):
    """THA's signature of children_on_the_move.khm-tha is gone from KHM's home: that contract is
    not in force there, so KHM has no DAG for it, and the audit DAG's doc says why."""
    (signature,) = (homes["KHM"] / AGREEMENTS).glob("children_on_the_move.khm-tha@*.THA.minisig")
    kept = signature.read_bytes()
    signature.unlink()
    try:
        found = fill_dagbag("KHM", tmp_path / "airflow", homes["KHM"])
    finally:
        signature.write_bytes(kept)
    assert found["errors"] == {}
    assert set(found["dags"]) == EXPECTED["KHM"] - {"gcmx_outbound_children_on_the_move_khm_tha"}
    doc = found["dags"]["gcmx_receipts_audit"]["doc_md"]
    assert f"`children_on_the_move.khm-tha`: THA has not signed ({signature.name} missing)" in doc
    assert "workers_deployed.khm-kor" in doc and "no age recipient of KOR" in doc
