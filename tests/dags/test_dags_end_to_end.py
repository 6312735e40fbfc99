"""The DAGs end to end with ``dag.test()``: KHM sends, THA receives, KHM collects the receipt.

Each party runs its own Airflow (own AIRFLOW_HOME and SQLite DB, in a child process) over
one real SeaweedFS. A dataset that breaks its contract fails KHM's outbound run at
``validate``, is quarantined, and nothing reaches the bucket. KHM's first outbound run
counts, task by task, the heavy steps it calls (by wrapping them in the child process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from exchange.audit.log import verify_log
from exchange.contract.model import load_contract
from exchange.devkit.airflow_local import RESULT_MARK
from exchange.devkit.synthetic import write_dataset
from exchange.orchestration.tasks import outbox_path
from exchange.settings import load_settings

CONTRACT = "children_on_the_move.khm-tha"
OUTBOUND = "gcmx_outbound_children_on_the_move_khm_tha"
PERIOD, BREACH_PERIOD = "2026-10", "2026-11"
CALLS_MARK = "GCMX-CALLS "
# Runs DAGs like ``python -m exchange.devkit.airflow_local`` with the heavy steps wrapped:
# per outbound task, how often it loaded a contract, verified its agreement, ran GX, protected.
COUNTING = """
import functools, json, sys
from exchange.contract import model
from exchange.devkit import airflow_local
from exchange.orchestration import tasks
from exchange.protocol import outbound, protection

calls = dict.fromkeys(("contract_load", "agreement", "validate", "protect"), 0)
per_task = {}

def wrap(module, name, count):
    original = getattr(module, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        before = dict(calls)
        if count:
            calls[count] += 1
        try:
            return original(*args, **kwargs)
        finally:
            if not count:
                per_task[name] = {key: calls[key] - before[key] for key in calls}

    setattr(module, name, wrapper)

wrap(model, "load_contract_file", "contract_load")
wrap(outbound, "require_in_force", "agreement")
wrap(outbound, "validate", "validate")
wrap(protection, "protect_for_contract", "protect")
for name in ("validate_outbound", "protect_outbound", "publish_outbound", "record_outbound"):
    wrap(tasks, name, None)
code = airflow_local.main(sys.argv[1:])
print("GCMX-CALLS " + json.dumps(per_task), flush=True)
sys.exit(code)
"""


def drop_in_outbox(exchange, period: str, **kwargs) -> None:
    khm = exchange.airflow["KHM"]
    contract = load_contract(CONTRACT, exchange.contracts)
    settings = load_settings(party="KHM", home=khm.gcmx_home)
    write_dataset(contract, outbox_path(settings, CONTRACT, period), period, seed=7, **kwargs)


def bucket_keys(exchange, bucket: str) -> list[str]:
    listing = exchange.server.client().list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listing.get("Contents", [])]


def assert_success(result: dict) -> None:
    assert result["state"] == "success", result.get("log", "")[-6000:]


def run_counted(airflow, dag_id: str, conf: dict) -> tuple[dict, dict]:
    """One ``dag.test()`` run of ``dag_id`` with the heavy steps counted per task."""
    done = subprocess.run([sys.executable, "-c", COUNTING, json.dumps([[dag_id, conf]])], env=airflow.env,
                          capture_output=True, text=True, timeout=900, check=False)
    lines = done.stdout.splitlines()
    results = [json.loads(line.removeprefix(RESULT_MARK)) for line in lines if line.startswith(RESULT_MARK)]
    calls = [json.loads(line.removeprefix(CALLS_MARK)) for line in lines if line.startswith(CALLS_MARK)]
    assert results and calls, done.stderr[-4000:]
    results[0]["log"] = done.stdout[-30000:] + done.stderr[-30000:]
    return results[0], calls[0]


@pytest.fixture(scope="module")
def delivered(dag_exchange):
    """KHM outbound → THA inbound → KHM receipts and audit, each through its DAG; then re-runs
    of both sides (no-ops) and an outbound run on a dataset that breaks its contract.

    Runs that follow each other on one side share one child process (Airflow starts once).
    """
    drop_in_outbox(dag_exchange, PERIOD)
    drop_in_outbox(dag_exchange, BREACH_PERIOD, violations=("unknown_code",))
    khm, tha = dag_exchange.airflow["KHM"], dag_exchange.airflow["THA"]
    runs = dict(zip(("outbound", "calls"), run_counted(khm, OUTBOUND, {"period": PERIOD}), strict=True))
    assert_success(runs["outbound"])
    runs["bucket_after_publish"] = bucket_keys(dag_exchange, "khm-to-tha")
    runs["watch"], runs["inbound"] = tha.run_dags([("gcmx_watch_khm", {}), ("gcmx_inbound_khm", {})])
    assert_success(runs["inbound"])
    runs["receipts"], runs["outbound_again"], runs["breach"] = khm.run_dags(
        [("gcmx_receipts_audit", {}), (OUTBOUND, {"period": PERIOD}), (OUTBOUND, {"period": BREACH_PERIOD})])
    runs["breach"]["log"] = runs["receipts"]["log"]
    assert_success(runs["receipts"])
    runs["inbound_again"] = tha.run_dag("gcmx_inbound_khm")
    return runs


def test_outbound_runs_every_step(delivered):
    assert delivered["outbound"]["tasks"] == {"validate": "success", "protect": "success",
                                              "publish": "success", "record": "success"}


def test_one_outbound_run_does_each_heavy_step_once(delivered):
    once, none = {"contract_load": 1, "agreement": 1}, {"contract_load": 0, "agreement": 0}
    assert delivered["calls"] == {
        "validate_outbound": {**once, "validate": 1, "protect": 0},
        "protect_outbound": {**once, "validate": 0, "protect": 1},
        "publish_outbound": {**once, "validate": 0, "protect": 0},
        "record_outbound": {**none, "validate": 0, "protect": 0},
    }


def test_publish_sends_the_staged_protection_and_removes_it(dag_exchange, delivered):
    khm = dag_exchange.airflow["KHM"].gcmx_home
    (sent,) = [f.parent for f in (khm / "outbound").glob("*/manifest.json")]
    manifest = json.loads((sent / "manifest.json").read_text())
    assert manifest["validation"]["success"] is True and manifest["rows"] > 0
    assert json.loads((sent / "disclosure.json").read_text())  # the sender's full report, kept
    assert not (sent / "validation.json").exists()  # nobody read it: no longer written
    assert not list((khm / "outbound" / "_staged").rglob(f"{PERIOD}/*.parquet"))


def test_watch_sees_the_new_exchange(delivered):
    assert delivered["watch"]["tasks"] == {"new_exchange": "success"}


def test_inbound_lands_the_exchange_and_answers(dag_exchange, delivered):
    assert delivered["inbound"]["tasks"] == {"discover": "success", "receive[0]": "success"}
    tha = dag_exchange.airflow["THA"].gcmx_home
    manifests = list((tha / "landing" / "KHM" / "children_on_the_move" / PERIOD).glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert pq.read_table(manifests[0].parent / "data.parquet").num_rows == manifest["rows"] > 0
    receipt = f"receipts/children_on_the_move/{PERIOD}/{manifest['exchange_id']}.json"
    assert receipt in bucket_keys(dag_exchange, "tha-to-khm")


def test_receipts_and_audit_close_the_loop(dag_exchange, delivered):
    assert set(delivered["receipts"]["tasks"].values()) == {"success"}
    khm = dag_exchange.airflow["KHM"].gcmx_home
    (sent,) = [f.parent for f in (khm / "outbound").glob("*/manifest.json")]
    assert json.loads((sent / "receipt.json").read_text())["status"] == "accepted"
    assert "audit/KHM/latest.json" in bucket_keys(dag_exchange, "khm-to-tha")
    for party, home in (("KHM", khm), ("THA", dag_exchange.airflow["THA"].gcmx_home)):
        verdict = verify_log(home / "audit" / f"{party}.audit.jsonl")
        assert verdict.ok and verdict.entries > 0, verdict.problems
    log = (khm / "audit" / "KHM.audit.jsonl").read_text().splitlines()
    events = {json.loads(line)["event"] for line in log}
    assert {"publish", "receipt", "checkpoint"} <= events


def test_rerunning_is_a_no_op(dag_exchange, delivered):
    assert_success(delivered["outbound_again"])
    published = [k for k in bucket_keys(dag_exchange, "khm-to-tha") if not k.startswith("audit/")]
    assert published == [k for k in delivered["bucket_after_publish"] if not k.startswith("audit/")]
    assert_success(delivered["inbound_again"])
    assert delivered["inbound_again"]["tasks"] == {"discover": "success", "receive": "skipped"}


def test_contract_breach_fails_visibly_and_sends_nothing(dag_exchange, delivered):
    result = delivered["breach"]
    assert result["state"] == "failed"
    assert result["tasks"]["validate"] == "failed"
    assert result["tasks"]["protect"] == result["tasks"]["publish"] == "upstream_failed"
    assert "breaks contract children_on_the_move.khm-tha" in result["log"]
    assert not [k for k in bucket_keys(dag_exchange, "khm-to-tha") if f"/{BREACH_PERIOD}/" in k]
    quarantine = dag_exchange.airflow["KHM"].gcmx_home / "quarantine"
    quarantined = list(quarantine.glob(f"{CONTRACT}-{BREACH_PERIOD}-*"))
    assert len(quarantined) == 1 and (quarantined[0] / "reason.json").exists()
