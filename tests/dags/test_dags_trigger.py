"""What an officer meets when triggering KHM's outbound DAG by hand (``dag.test()``, real
Airflow): a malformed ``period`` is refused with the CLI's words before any run exists, and a
task that fails ends its log with the reason in words, without library chatter and without a
traceback of the project's typed errors.
"""

from __future__ import annotations

import re

from tests.dags.test_dags_end_to_end import CONTRACT, OUTBOUND, drop_in_outbox

FAILING_PERIOD = "2026-08"
NOISY = re.compile(r"\[(great_expectations|botocore|boto3|s3transfer|urllib3)[.\]]")


def test_malformed_period_is_refused_with_the_clear_message(dag_exchange):
    result = dag_exchange.airflow["KHM"].run_dag(OUTBOUND, {"period": "October 2026"})
    assert result["state"] == "refused"
    reason = re.sub(r"'\s+'", "", result["reason"])  # the schema is pretty-printed: long strings split
    reason = " ".join(reason.split())
    assert "Invalid input for param period: 'October 2026' does not match" in reason
    assert f"a monthly period (YYYY-MM): contract {CONTRACT} expects periods like 2025-03" in reason


def task_lines(log: str) -> list[str]:
    """The run's log lines up to its result line."""
    lines = log.splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("GCMX-DAG-RESULT "))
    return lines[:end]


def test_failed_task_log_ends_with_its_reason(dag_exchange):
    drop_in_outbox(dag_exchange, FAILING_PERIOD, violations=("unknown_code",))
    result = dag_exchange.airflow["KHM"].run_dag(OUTBOUND, {"period": FAILING_PERIOD})
    assert result["state"] == "failed" and result["tasks"]["validate"] == "failed"
    lines = task_lines(result["log"])
    errors = [line for line in lines if "[error" in line]
    assert "gcmx task validate FAILED: " in errors[-1], errors[-3:]
    assert f"breaks contract {CONTRACT}" in errors[-1] and " — " in errors[-1]  # the reason, then what to do
    assert not [line for line in lines if NOISY.search(line)]
    assert not [line for line in lines if "exchange.errors" in line or "ContractError:" in line]
