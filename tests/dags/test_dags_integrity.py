"""DagBag integrity and policy for each party: no import errors, the expected DAGs, and every
DAG with tags, owners, doc_md, catchup off and retries ≥ 2 with exponential backoff.

The DagBag is filled in a child process with its own AIRFLOW_HOME and GCMX_PARTY, as
Airflow reads its configuration once, at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from exchange.settings import PROJECT_ROOT

PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "tags": sorted(dag.tags), "catchup": dag.catchup, "doc_md": dag.doc_md or "",
        "owners": sorted({t.owner for t in dag.tasks}), "schedule": type(dag.timetable).__name__,
        "retries": min(t.retries for t in dag.tasks),
        "backoff": min(float(t.retry_exponential_backoff) for t in dag.tasks),
        "tasks": sorted(t.task_id for t in dag.tasks),
    }
heavy = [m for m in ("pyarrow", "great_expectations", "pandas", "exchange.protocol.node") if m in sys.modules]
print("PROBE " + json.dumps({"errors": bag.import_errors, "dags": dags, "heavy": heavy}))
"""

EXPECTED = {
    "KHM": {"gcmx_outbound_workers_deployed_khm_tha", "gcmx_outbound_workers_deployed_khm_mys",
            "gcmx_outbound_workers_deployed_khm_kor", "gcmx_outbound_children_on_the_move_khm_tha",
            "gcmx_inbound_tha", "gcmx_inbound_mys", "gcmx_inbound_kor",
            "gcmx_watch_tha", "gcmx_watch_mys", "gcmx_watch_kor", "gcmx_receipts_audit"},
    "THA": {"gcmx_outbound_workers_registered_tha_khm", "gcmx_outbound_child_birth_registrations_tha_khm",
            "gcmx_outbound_children_on_the_move_tha_khm", "gcmx_outbound_returnees_tha_khm",
            "gcmx_inbound_khm", "gcmx_watch_khm", "gcmx_receipts_audit"},
}


def fill_dagbag(party: str, airflow_home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCMX_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(airflow_home), AIRFLOW__CORE__LOAD_EXAMPLES="False", GCMX_PARTY=party,
               AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags"))
    done = subprocess.run([sys.executable, "-c", PROBE, str(PROJECT_ROOT / "dags")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stderr[-4000:]
    return json.loads(lines[-1].removeprefix("PROBE "))


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def bag(request, tmp_path_factory) -> tuple[str, dict]:
    return request.param, fill_dagbag(request.param, tmp_path_factory.mktemp(f"airflow_{request.param}"))


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
