"""Run one party's Airflow on this machine (SQLite metadata DB) for the demo and the tests.

Each party gets its own ``AIRFLOW_HOME``; the S3 connection ``gcmx_s3`` and the
``GCMX_*`` settings reach Airflow through the environment, which is set before Airflow
is imported because every DAG run happens in a child process::

    python -m exchange.devkit.airflow_local '[["<dag_id>", {conf}], ...]'

runs ``dag.test()`` for each and prints one JSON line per run: its state and each task's
(state ``refused`` with Airflow's ``reason`` when the trigger's parameters are invalid).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from exchange.errors import ConfigError
from exchange.settings import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"
RESULT_MARK = "GCMX-DAG-RESULT "
_DB = "airflow.db"


def s3_connection(endpoint: str, access_key_id: str, secret_access_key: str) -> str:
    """The ``gcmx_s3`` connection as Airflow's JSON form (amazon provider, path-style S3)."""
    return json.dumps({
        "conn_type": "aws", "login": access_key_id, "password": secret_access_key,
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1",
                  "config_kwargs": {"s3": {"addressing_style": "path"}}},
    })


@dataclass
class LocalAirflow:
    """One party's Airflow home and the environment its processes run with."""

    party: str
    gcmx_home: Path
    airflow_home: Path
    connection: str = field(repr=False)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """The process environment: Airflow on SQLite, the project's DAGs, this party's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GCMX_", "AIRFLOW"))}
        env.update({
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.airflow_home / _DB}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_GCMX_S3": self.connection,
            "GCMX_PARTY": self.party,
            "GCMX_HOME": str(self.gcmx_home),
        })
        env.update(self.settings)
        return env

    def migrate(self, template: Path | None = None) -> None:
        """Create the metadata DB (``airflow db migrate``), or copy an already migrated one."""
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        if (self.airflow_home / _DB).exists():
            return
        if template and template.exists():
            shutil.copy(template, self.airflow_home / _DB)
            return
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.env,
                              capture_output=True, text=True, check=False)
        if done.returncode:
            raise ConfigError(f"airflow db migrate failed in {self.airflow_home}: {done.stderr[-1500:]}",
                              hint="check the Airflow installation (make install)")

    @property
    def database(self) -> Path:
        return self.airflow_home / _DB

    def run_dags(self, runs: list[tuple[str, dict]], timeout: float = 900) -> list[dict]:
        """Run each ``(dag_id, conf)`` once with ``dag.test()``, in order, in one child process.

        Returns one result per DAG: ``dag_id``, ``state`` and ``tasks`` (task id → state);
        the first result also carries the child's output tail as ``log``.
        """
        args = [sys.executable, "-m", "exchange.devkit.airflow_local", json.dumps(runs)]
        try:
            done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            tail = (exc.stderr or b"")[-2000:]
            raise ConfigError(
                f"DAG runs {[r[0] for r in runs]} of {self.party} did not finish in {timeout:.0f} s: "
                f"{tail.decode(errors='replace') if isinstance(tail, bytes) else tail}",
                hint=f"see the task logs under AIRFLOW_HOME={self.airflow_home}/logs") from None
        results = [json.loads(line.removeprefix(RESULT_MARK)) for line in done.stdout.splitlines()
                   if line.startswith(RESULT_MARK)]
        if len(results) != len(runs):
            raise ConfigError(f"DAG runs {[r[0] for r in runs]} of {self.party} stopped early "
                              f"(exit {done.returncode}): {done.stderr[-3000:]}",
                              hint=f"AIRFLOW_HOME={self.airflow_home}")
        results[0]["log"] = done.stdout[-30000:] + done.stderr[-30000:]
        return results

    def run_dag(self, dag_id: str, conf: dict | None = None, timeout: float = 900) -> dict:
        """Run one DAG once with ``dag.test()`` in a child process (see ``run_dags``)."""
        return self.run_dags([(dag_id, conf or {})], timeout)[0]


def _test_dag(bag, dag_id: str, conf: dict) -> dict:
    dag = bag.get_dag(dag_id)
    if dag is None:
        return {"dag_id": dag_id, "state": "missing", "known": sorted(bag.dag_ids)}
    from airflow.sdk.exceptions import ParamValidationError

    try:
        run = dag.test(run_conf=conf)
    except ParamValidationError as exc:  # Airflow refuses the trigger: no run is created
        return {"dag_id": dag_id, "state": "refused", "reason": str(exc)}
    tasks = {}
    for ti in run.get_task_instances():
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        tasks[name] = str(getattr(ti.state, "value", ti.state))
    return {"dag_id": dag_id, "state": str(getattr(run.state, "value", run.state)), "tasks": tasks}


def main(argv: list[str]) -> int:
    """``python -m exchange.devkit.airflow_local '[[dag_id, conf], ...]'``: run DAGs, print result lines."""
    from airflow.dag_processing.dagbag import DagBag

    runs = json.loads(argv[0])
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    failed = False
    for dag_id, conf in runs:
        if bag.import_errors:
            result = {"dag_id": dag_id, "state": "import_error",
                      "errors": {k: v[-2000:] for k, v in bag.import_errors.items()}}
        else:
            result = _test_dag(bag, dag_id, conf)
        failed |= result["state"] != "success"
        sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
