"""Benchmark: one outbound DAG run (``dag.test()``) against ``gcmx publish`` of the same file.

Usage: PYTHONPATH=$PWD .venv/bin/python bench/dag.py [--rows 33000,1000000] [--dir DIR]

THA sends a record-level ``returnees.tha-khm`` dataset of N rows (made by
``exchange.devkit.synthetic``) to KHM through a real SeaweedFS (``exchange.devkit.seaweed``).
Each case runs in its own process, on a fresh server and fresh party homes, so neither
finds the other's exchange:

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
CONTRACT, PERIOD, SENDER, RECIPIENT = "returnees.tha-khm", "2026-10", "THA", "KHM"
DAG_ID = "gcmx_outbound_" + CONTRACT.replace(".", "_").replace("-", "_")
GOAL = 1.3


# ---- steps, each run in a child process ------------------------------------------------

def step_generate(state: dict) -> None:
    from exchange.contract.model import load_contract
    from exchange.devkit.synthetic import write_dataset

    start = time.perf_counter()
    path = write_dataset(load_contract(CONTRACT), Path(state["source"]), PERIOD, rows=state["rows"], seed=1)
    report(seconds=time.perf_counter() - start, bytes=path.stat().st_size)


def _timed(module, name: str, spent: dict) -> None:
    """Wrap ``module.name`` so the seconds spent in it add up in ``spent[name]``."""
    original = getattr(module, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    setattr(module, name, timed)


def step_dag(state: dict) -> None:
    """Inside the party's Airflow environment: fill the DagBag, then time one ``dag.test()``
    and, within it, the time each task spent in its ``exchange.orchestration.tasks`` function."""
    from airflow.dag_processing.dagbag import DagBag

    from exchange.devkit.airflow_local import DAGS_FOLDER
    from exchange.orchestration import tasks as task_functions

    spent: dict[str, float] = {}
    for name in ("validate_outbound", "protect_outbound", "publish_outbound", "record_outbound"):
        _timed(task_functions, name, spent)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    dag = bag.get_dag(DAG_ID)
    if dag is None:
        raise SystemExit(f"no DAG {DAG_ID}: {bag.import_errors}")
    start = time.perf_counter()
    run = dag.test(run_conf={"period": PERIOD, "source": state["source"]})
    seconds = time.perf_counter() - start
    tasks = {ti.task_id: {"state": str(getattr(ti.state, "value", ti.state)), "seconds": ti.duration,
                          "in_exchange": spent.get(f"{ti.task_id}_outbound")}
             for ti in run.get_task_instances()}
    report(seconds=seconds, state=str(getattr(run.state, "value", run.state)), tasks=tasks)


STEPS = {"generate": step_generate, "dag": step_dag}


# ---- the parent: set up, run every case, print the table ---------------------------------

def _party(work: Path):
    """A fresh SeaweedFS and fresh THA/KHM homes under ``work``; return the server and THA's home."""
    from exchange.devkit.bootstrap import provision
    from exchange.devkit.seaweed import new_server

    server = new_server(work / "s3", [SENDER, RECIPIENT], [(SENDER, RECIPIENT)]).start()
    homes = provision(work / "homes", [SENDER, RECIPIENT], [(SENDER, RECIPIENT)])
    return server, homes[SENDER]


def case_cli(work: Path, source: Path) -> Measured:
    """``gcmx publish`` of ``source`` as THA, timed from outside (its whole process)."""
    server, home = _party(work)
    creds = server.credentials[SENDER]
    os.environ.update(GCMX_PARTY=SENDER, GCMX_HOME=str(home), GCMX_S3_ENDPOINT=server.endpoint,
                      GCMX_S3_ACCESS_KEY_ID=creds.access_key_id,
                      GCMX_S3_SECRET_ACCESS_KEY=creds.secret_access_key)
    try:
        gcmx = Path(sys.executable).with_name("gcmx")
        start = time.perf_counter()
        measured = run_measured([str(gcmx), "publish", str(source), "--contract", CONTRACT, "--period", PERIOD])
        return Measured(time.perf_counter() - start, measured.peak_rss_mb, measured.report)
    finally:
        for name in ("GCMX_PARTY", "GCMX_HOME", "GCMX_S3_ENDPOINT", "GCMX_S3_ACCESS_KEY_ID",
                     "GCMX_S3_SECRET_ACCESS_KEY"):
            os.environ.pop(name, None)
        server.stop()


def case_dag(work: Path, source: Path, state: Path) -> Measured:
    """One run of THA's outbound DAG in THA's own Airflow (metadata DB migrated first, untimed)."""
    from exchange.devkit.airflow_local import LocalAirflow, s3_connection

    server, home = _party(work)
    creds = server.credentials[SENDER]
    try:
        airflow = LocalAirflow(SENDER, home, work / "airflow",
                               s3_connection(server.endpoint, creds.access_key_id, creds.secret_access_key),
                               {k: os.environ[k] for k in ("GCMX_CONTRACTS", "GCMX_EXPECTATIONS")})
        airflow.migrate()
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(airflow.env)
        try:
            measured = run_measured([sys.executable, __file__, "--child", str(state), "dag"])
        finally:
            os.environ.clear()
            os.environ.update(saved)
    finally:
        server.stop()
    if measured.report.get("state") != "success":
        raise SystemExit(f"the DAG run did not succeed: {measured.report}")
    return measured


def run_size(rows: int, directory: str | None) -> dict[str, Measured]:
    """Generate the file, then the CLI publish and the DAG run of it, each in its own process."""
    with tempfile.TemporaryDirectory(prefix="gcmx-bench-dag-", dir=directory) as tmp:
        work = Path(tmp)
        for name in ("contracts", "expectations"):  # a snapshot: edits in the checkout cannot break the run
            shutil.copytree(ROOT / name, work / name)
            os.environ[f"GCMX_{name.upper()}"] = str(work / name)
        source = work / "source.parquet"
        state = work / "state.json"
        state.write_text(json.dumps({"rows": rows, "source": str(source)}))
        me = [sys.executable, __file__, "--child", str(state)]
        print(f"  {rows:,} rows: generate ...", file=sys.stderr, flush=True)
        done = {"generate": run_measured([*me, "generate"])}
        print(f"  {rows:,} rows: gcmx publish ...", file=sys.stderr, flush=True)
        done["cli"] = case_cli(work / "cli", source)
        print(f"  {rows:,} rows: DAG run ...", file=sys.stderr, flush=True)
        done["dag"] = case_dag(work / "dag", source, state)
    return done


def print_table(rows: int, done: dict[str, Measured]) -> list[str]:
    """The ratio table of one size; returns the goal if it was missed."""
    floor, dag = done["cli"], done["dag"]
    ratio = dag.seconds / floor.seconds
    print(f"\nDAG benchmark: {rows:,} rows of {CONTRACT} ({done['generate'].report['bytes'] / 2**20:.1f} MB Parquet)")
    print(f"{'case':<36} {'seconds':>8} {'ratio':>6} {'peak RSS MB':>11}  goal / task state, s in exchange code")
    print(f"{'gcmx publish (floor)':<36} {floor.seconds:>8.2f} {1:>6.2f} {floor.peak_rss_mb:>11.0f}")
    verdict = f"<= {GOAL}x " + ("met" if ratio <= GOAL else "MISSED")
    print(f"{'outbound DAG run (dag.test)':<36} {dag.seconds:>8.2f} {ratio:>6.2f} {dag.peak_rss_mb:>11.0f}  {verdict}")
    for task, info in sorted(dag.report["tasks"].items(), key=lambda item: item[1]["seconds"] or 0, reverse=True):
        inside = f", {info['in_exchange']:.2f} s in exchange.orchestration.tasks" if info.get("in_exchange") else ""
        print(f"{'  task ' + task:<36} {info['seconds'] or 0:>8.2f} {'':>6} {'':>11}  {info['state']}{inside}")
    inside = sum(info.get("in_exchange") or 0 for info in dag.report["tasks"].values())
    print(f"{'  Airflow (dag.test outside tasks fns)':<36} {dag.seconds - inside:>8.2f}")
    return [] if ratio <= GOAL else [f"DAG run at {rows:,} rows: {ratio:.2f}x > {GOAL}x"]


def main() -> int:
    """Parse options, run the sizes asked for, print the tables; exit 1 if the goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="33000,1000000", help="comma-separated sizes (records)")
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
    sizes = [int(s) for s in args.rows.split(",")]
    missed = [goal for rows in sizes for goal in print_table(rows, run_size(rows, args.dir))]
    print("\ngoals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
