"""Benchmark: one outbound DAG run (``dag.test()``) against ``gcmx publish`` of the same file.

Usage: PYTHONPATH=$PWD .venv/bin/python bench/dag.py [--cases demo,records] [--rows 1000000] [--dir DIR]

Two datasets made by ``exchange.devkit.synthetic``, sent through a real SeaweedFS
(``exchange.devkit.seaweed``):

* ``demo``: the demo's 33k-row table, KHM's ``workers_deployed.khm-tha`` aggregate (33,075
  cells, 5 dimensions: cell suppression with its exact audit is the heavy step);
* ``records``: THA's record-level ``returnees.tha-khm`` of ``--rows`` records (1M by default).

For each, every case runs in its own process, on a fresh server and fresh party homes, so
neither finds the other's exchange:

* floor: ``gcmx publish FILE --contract returnees.tha-khm --period P``, as an officer runs
  it (wall time of the command, interpreter start-up included);
* DAG: ``gcmx_outbound_returnees_tha_khm`` run once with ``dag.test()`` (SQLite metadata DB,
  like ``exchange.devkit.airflow_local``); the time of ``dag.test()`` itself, Airflow's
  import and DAG parsing excluded (a running scheduler has done them), and each task's.

Goal (issue 13): the DAG run <= 1.3x the CLI publish.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _util import Measured, report, run_measured

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2026-10"
CASES = {"demo": "workers_deployed.khm-tha", "records": "returnees.tha-khm"}  # contract of each
GOAL = 1.3


def parties(contract: str) -> tuple[str, str]:
    """``returnees.tha-khm`` → (THA, KHM): sender and recipient."""
    sender, recipient = contract.split(".")[1].upper().split("-")
    return sender, recipient


def dag_id(contract: str) -> str:
    return "gcmx_outbound_" + contract.replace(".", "_").replace("-", "_")


# ---- steps, each run in a child process ------------------------------------------------

def step_generate(state: dict) -> None:
    import pyarrow.parquet as pq

    from exchange.contract.model import load_contract
    from exchange.devkit.synthetic import write_dataset

    start = time.perf_counter()
    path = write_dataset(load_contract(state["contract"]), Path(state["source"]), PERIOD, rows=state["rows"], seed=1)
    report(seconds=time.perf_counter() - start, bytes=path.stat().st_size, rows=pq.read_metadata(path).num_rows)


def _timed(module, name: str, spent: dict) -> None:
    """Wrap ``module.name`` so the seconds spent in it add up in ``spent[name]``."""
    original = getattr(module, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
        if isinstance(result, dict) and "created_now" in result:
            spent["created_now"] = result["created_now"]  # the run published a new exchange
        return result

    setattr(module, name, timed)


def _counted(module, name: str, label: str, calls: dict) -> None:
    """Wrap ``module.name`` so its calls add up in ``calls[label]``."""
    original = getattr(module, name)

    @functools.wraps(original)
    def counted(*args, **kwargs):
        calls[label] += 1
        return original(*args, **kwargs)

    setattr(module, name, counted)


def step_dag(state: dict) -> None:
    """Inside the party's Airflow environment: fill the DagBag, then time one ``dag.test()``
    and, within it, the time each task spent in its ``exchange.orchestration.tasks`` function."""
    from airflow.dag_processing.dagbag import DagBag

    from exchange.devkit.airflow_local import DAGS_FOLDER
    from exchange.orchestration import airflow_glue
    from exchange.orchestration import tasks as task_functions

    spent: dict[str, float] = {}
    for name in ("validate_outbound", "protect_outbound", "publish_outbound", "record_outbound"):
        _timed(task_functions, name, spent)
    for name in ("s3_client", "use_identity_connection"):
        _timed(airflow_glue, name, spent)
    from exchange.contract import model
    from exchange.protocol import outbound, protection

    calls = {"validate": 0, "protect": 0, "contract loads": 0}
    for module, name, label in ((outbound, "validate", "validate"), (protection, "protect_for_contract", "protect"),
                                (model, "load_contract_file", "contract loads")):
        _counted(module, name, label, calls)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    dag = bag.get_dag(dag_id(state["contract"]))
    if dag is None:
        raise SystemExit(f"no DAG {dag_id(state['contract'])}: {bag.import_errors}")
    start = time.perf_counter()
    run = dag.test(run_conf={"period": PERIOD, "source": state["source"]})
    seconds = time.perf_counter() - start
    tasks = {ti.task_id: {"state": str(getattr(ti.state, "value", ti.state)), "seconds": ti.duration,
                          "in_exchange": spent.get(f"{ti.task_id}_outbound")}
             for ti in run.get_task_instances()}
    report(seconds=seconds, state=str(getattr(run.state, "value", run.state)), tasks=tasks,
           glue=spent.get("s3_client", 0.0) + spent.get("use_identity_connection", 0.0), calls=calls,
           created_now=spent.get("created_now"), code=str(Path(task_functions.__file__).parents[2]),
           dags=str(DAGS_FOLDER))


FLOOR_DAG = """
from datetime import datetime

from airflow.sdk import DAG, task

with DAG("bench_outbound_floor", schedule=None, start_date=datetime(2025, 1, 1), catchup=False) as dag:

    @task
    def validate() -> dict:
        return {"period": "2026-10", "source": "source.parquet"}

    @task
    def protect(checked: dict) -> dict:
        return {"staged": checked["source"]}

    @task
    def publish(checked: dict, protected: dict) -> dict:
        return {**checked, **protected}

    @task
    def record(published: dict) -> dict:
        return published

    checked = validate()
    record(publish(checked, protect(checked)))
"""


def step_dag_floor(state: dict) -> None:
    """Airflow's own cost: one ``dag.test()`` of a DAG wired like the outbound one whose tasks
    do nothing but hand a small dict on, in a DAGs folder that also holds the project's DAG
    file (``dag.test()`` parses its whole folder)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).get_dag("bench_outbound_floor")
    start = time.perf_counter()
    run = dag.test()
    report(seconds=time.perf_counter() - start, state=str(getattr(run.state, "value", run.state)))


STEPS = {"generate": step_generate, "dag": step_dag, "dag-floor": step_dag_floor}


# ---- the parent: set up, run every case, print the table ---------------------------------

def _party(work: Path, contract: str):
    """A fresh SeaweedFS and fresh sender/recipient homes under ``work``; return the server and
    the sender's home."""
    from exchange.devkit.bootstrap import provision
    from exchange.devkit.seaweed import new_server

    pair = parties(contract)
    server = new_server(work / "s3", pair, [pair]).start()
    homes = provision(work / "homes", pair, [pair])
    return server, homes[pair[0]]


def case_cli(work: Path, source: Path, contract: str) -> Measured:
    """``gcmx publish`` of ``source`` as the sender, timed from outside (its whole process)."""
    server, home = _party(work, contract)
    sender = parties(contract)[0]
    creds = server.credentials[sender]
    os.environ.update(GCMX_PARTY=sender, GCMX_HOME=str(home), GCMX_S3_ENDPOINT=server.endpoint,
                      GCMX_S3_ACCESS_KEY_ID=creds.access_key_id,
                      GCMX_S3_SECRET_ACCESS_KEY=creds.secret_access_key)
    try:
        gcmx = Path(sys.executable).with_name("gcmx")
        start = time.perf_counter()
        measured = run_measured([str(gcmx), "publish", str(source), "--contract", contract, "--period", PERIOD])
        return Measured(time.perf_counter() - start, measured.peak_rss_mb, measured.report)
    finally:
        for name in ("GCMX_PARTY", "GCMX_HOME", "GCMX_S3_ENDPOINT", "GCMX_S3_ACCESS_KEY_ID",
                     "GCMX_S3_SECRET_ACCESS_KEY"):
            os.environ.pop(name, None)
        server.stop()


def case_dag(work: Path, contract: str, state: Path) -> tuple[Measured, Measured]:
    """One run of the sender's outbound DAG in its own Airflow (metadata DB migrated first,
    untimed), then, in its own process, one run of the do-nothing DAG (Airflow's own cost)."""
    from exchange.devkit.airflow_local import DAGS_FOLDER, LocalAirflow, s3_connection

    server, home = _party(work, contract)
    sender = parties(contract)[0]
    creds = server.credentials[sender]
    try:
        airflow = LocalAirflow(sender, home, work / "airflow",
                               s3_connection(server.endpoint, creds.access_key_id, creds.secret_access_key),
                               {k: os.environ[k] for k in ("GCMX_CONTRACTS", "GCMX_EXPECTATIONS")})
        airflow.migrate()
        saved, env = dict(os.environ), airflow.env  # the party's environment, built from this one
        os.environ.clear()
        os.environ.update(env)
        try:
            measured = run_measured([sys.executable, __file__, "--child", str(state), "dag"])
            floor_dags = work / "floor_dags"
            floor_dags.mkdir()
            (floor_dags / "bench_outbound_floor.py").write_text(FLOOR_DAG)
            (floor_dags / "gcmx_exchange.py").symlink_to(DAGS_FOLDER / "gcmx_exchange.py")
            os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(floor_dags)
            floor = run_measured([sys.executable, __file__, "--child", str(state), "dag-floor"])
        finally:
            os.environ.clear()
            os.environ.update(saved)
    finally:
        server.stop()
    for run in (floor, measured):
        if run.report.get("state") != "success":
            raise SystemExit(f"the DAG run did not succeed: {run.report}")
    if not measured.report.get("created_now"):
        raise SystemExit("the DAG run published no new exchange: not comparable")
    return measured, floor


def run_case(contract: str, rows: int | None, directory: str | None) -> dict[str, Measured]:
    """Generate the file, then the CLI publish and the DAG run of it, each in its own process."""
    with tempfile.TemporaryDirectory(prefix="gcmx-bench-dag-", dir=directory) as tmp:
        work = Path(tmp)
        for name in ("contracts", "expectations"):  # a snapshot: edits in the checkout cannot break the run
            shutil.copytree(ROOT / name, work / name)
            os.environ[f"GCMX_{name.upper()}"] = str(work / name)
        source = work / "source.parquet"
        state = work / "state.json"
        state.write_text(json.dumps({"contract": contract, "rows": rows, "source": str(source)}))
        me = [sys.executable, __file__, "--child", str(state)]
        print(f"  {contract}: generate ...", file=sys.stderr, flush=True)
        done = {"generate": run_measured([*me, "generate"])}
        print(f"  {contract}: gcmx publish ...", file=sys.stderr, flush=True)
        done["cli"] = case_cli(work / "cli", source, contract)
        print(f"  {contract}: DAG run, then the do-nothing DAG ...", file=sys.stderr, flush=True)
        done["dag"], done["dag-floor"] = case_dag(work / "dag", contract, state)
    return done


def print_table(contract: str, done: dict[str, Measured]) -> list[str]:
    """The ratio table of one size; returns the goal if it was missed."""
    floor, dag = done["cli"], done["dag"]
    ratio = dag.seconds / floor.seconds
    made = done["generate"].report
    rows = made["rows"]
    print(f"\nDAG benchmark: {rows:,} rows of {contract} ({made['bytes'] / 2**20:.1f} MB Parquet); "
          f"code under test {dag.report['code']}, DAGs {dag.report['dags']}")
    print(f"{'case':<36} {'seconds':>8} {'ratio':>6} {'peak RSS MB':>11}  goal / task state, s in exchange code")
    print(f"{'gcmx publish (floor)':<36} {floor.seconds:>8.2f} {1:>6.2f} {floor.peak_rss_mb:>11.0f}")
    verdict = f"<= {GOAL}x " + ("met" if ratio <= GOAL else "MISSED")
    print(f"{'outbound DAG run (dag.test)':<36} {dag.seconds:>8.2f} {ratio:>6.2f} {dag.peak_rss_mb:>11.0f}  {verdict}")
    for task, info in sorted(dag.report["tasks"].items(), key=lambda item: item[1]["seconds"] or 0, reverse=True):
        inside = f", {info['in_exchange']:.2f} s in exchange.orchestration.tasks" if info.get("in_exchange") else ""
        print(f"{'  task ' + task:<36} {info['seconds'] or 0:>8.2f} {'':>6} {'':>11}  {info['state']}{inside}")
    inside = sum(info.get("in_exchange") or 0 for info in dag.report["tasks"].values())
    print(f"{'  in exchange.orchestration.tasks':<36} {inside:>8.2f} {inside / floor.seconds:>6.2f}")
    print(f"{'  in airflow_glue (S3 client, identity)':<36} {dag.report['glue']:>8.2f}")
    print(f"{'  Airflow itself (the rest)':<36} {dag.seconds - inside - dag.report['glue']:>8.2f}")
    empty = done["dag-floor"]
    print(f"{'same DAG, tasks doing nothing':<36} {empty.seconds:>8.2f} {empty.seconds / floor.seconds:>6.2f} "
          f"{empty.peak_rss_mb:>11.0f}  Airflow's own cost of a dag.test() run")
    beyond = dag.seconds - empty.seconds
    print(f"{'DAG run minus that':<36} {beyond:>8.2f} {beyond / floor.seconds:>6.2f}")
    print("heavy calls in the DAG run: " + ", ".join(f"{k} x{v}" for k, v in dag.report["calls"].items()))
    return [] if ratio <= GOAL else [f"DAG run at {rows:,} rows: {ratio:.2f}x > {GOAL}x"]


def main() -> int:
    """Parse options, run the sizes asked for, print the tables; exit 1 if the goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="demo,records", help="comma-separated: demo, records")
    parser.add_argument("--rows", type=int, default=1_000_000, help="records of the records case")
    parser.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                        help="where files, Airflow homes and the SeaweedFS data go (default /dev/shm)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # bench/exchange.py would shadow the package: the checkout (PYTHONPATH, else this one) goes first,
    # and the children (gcmx, Airflow) import the same one
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.path[0:0] = os.environ["PYTHONPATH"].split(os.pathsep)
    if args.child:
        STEPS[args.child[1]](json.loads(Path(args.child[0]).read_text()))
        return 0
    missed = []
    for case in args.cases.split(","):
        contract = CASES[case]
        missed += print_table(contract, run_case(contract, args.rows if case == "records" else None, args.dir))
    print("\ngoals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
