"""The gcmx_retention DAG: it parses (DagBag, in test_dags_integrity too), it runs its one task in
Airflow, and that task is one function of exchange/ (tested with a moved clock, without Airflow,
in tests/unit/protocol/test_retention_task.py)."""

from __future__ import annotations

import json

from exchange.orchestration import retention_tasks


def test_the_retention_dag_runs_its_one_task_in_airflow(dag_exchange):
    """Nothing is due today: the run succeeds, deletes nothing and leaves the report."""
    result = dag_exchange.airflow["THA"].run_dag("gcmx_retention")
    assert result["state"] == "success", result.get("log", "")[-3000:]
    assert result["tasks"] == {"apply_retention": "success"}
    status = json.loads((dag_exchange.airflow["THA"].gcmx_home / "retention" / "status.json").read_text())
    assert status["deleted"] == [] and status["dry_run"] is False


def test_the_dag_file_wires_the_task_function():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "dags" / "gcmx_retention.py").read_text()
    assert "run(retention_tasks.apply_retention_task)" in text
    assert callable(retention_tasks.apply_retention_task)
