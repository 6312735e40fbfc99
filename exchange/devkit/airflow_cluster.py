"""One party's Airflow as a ministry runs it: PostgreSQL metadata DB, CeleryExecutor with a Redis
broker, an API server, a scheduler, a DAG processor and two Celery workers, all on loopback.

Every piece is Airflow's own (``apache-airflow-providers-celery`` and ``-postgres``); the servers
come from :mod:`exchange.devkit.servers`. ``make airflow-cluster`` starts it for KHM and THA over
a local SeaweedFS for a person to try (``python -m exchange.devkit.airflow_cluster``); the tests
(``tests/cluster``) start it with a DAGs folder of their own. In production the same settings
are the Helm chart's or the managed service's (see the README, "Beyond one machine").

``python -m exchange.devkit.airflow_cluster trigger '[["<dag_id>", {conf}], ...]'`` (with the
cluster's environment) unpauses each DAG and triggers one run of it, printing the run ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from exchange.devkit.airflow_local import DAGS_FOLDER, LocalAirflow
from exchange.devkit.seaweed import free_port
from exchange.devkit.servers import Postgres, Process, Redis, wait_for
from exchange.errors import ConfigError

WORKERS = 2
RUN_MARK = "GCMX-RUN "


@dataclass
class AirflowCluster:
    """The servers and Airflow processes of one party, and the environment they share."""

    local: LocalAirflow
    dags_folder: Path = DAGS_FOLDER
    postgres: Postgres | None = None
    redis: Redis | None = None
    api_port: int = field(default_factory=free_port)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    processes: list[Process] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """LocalAirflow's environment with PostgreSQL, Celery on Redis and the shared API secrets."""
        env = self.local.env
        env.update({
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url.replace("+psycopg2", ""),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.secret,
            "AIRFLOW__API__SECRET_KEY": self.secret,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # a local trial: no login
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        })
        return env

    def start(self, timeout: float = 240) -> AirflowCluster:
        """PostgreSQL, Redis, ``airflow db migrate``, then the API server, scheduler, DAG processor
        and the Celery workers; returns once the workers answer Celery's ping."""
        home = self.local.airflow_home
        home.mkdir(parents=True, exist_ok=True)
        self.postgres = Postgres(home).start()
        self.redis = Redis(home).start()
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.env,
                              capture_output=True, text=True, check=False, timeout=600)
        if done.returncode:
            raise ConfigError(f"airflow db migrate on PostgreSQL failed: {done.stderr[-2000:]}", hint=str(home))
        airflow = [sys.executable, "-m", "airflow"]
        commands = {"api-server": ["api-server", "--port", str(self.api_port), "--host", "127.0.0.1"],
                    "scheduler": ["scheduler"], "dag-processor": ["dag-processor"]}
        for number in range(1, WORKERS + 1):
            commands[f"worker{number}"] = ["celery", "worker", "--celery-hostname", f"worker{number}@%h",
                                            "--skip-serve-logs", "--without-gossip", "--without-mingle"]
        for name, args in commands.items():
            self.processes.append(Process(name, [*airflow, *args], home / f"{name}.log", env=self.env).start(home))
        wait_for("the Celery workers", self._workers_answer, self.processes, timeout)
        return self

    def _workers_answer(self) -> bool:
        from celery import Celery

        app = Celery(broker=self.redis.url)
        try:
            answers = app.control.ping(timeout=1.0) or []
        finally:
            app.close()
        return len(answers) >= WORKERS

    def stop(self) -> None:
        """Stop the Airflow processes (workers first), then Redis and PostgreSQL."""
        for process in self.processes:  # all at once: each takes seconds to shut down on its own
            if process.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            process.stop(timeout=10)  # waits for its end; kills it if it lingers
        self.processes = []
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()

    def trigger(self, runs: list[tuple[str, dict]], timeout: float = 300) -> list[str]:
        """Unpause each DAG and trigger one run of it (in a child process with the cluster's env)."""
        done = subprocess.run([sys.executable, "-m", "exchange.devkit.airflow_cluster", "trigger", json.dumps(runs)],
                              env=self.env, capture_output=True, text=True, check=False, timeout=timeout)
        ids = [line.removeprefix(RUN_MARK) for line in done.stdout.splitlines() if line.startswith(RUN_MARK)]
        if len(ids) != len(runs):
            raise ConfigError(f"triggering {runs} failed: {done.stderr[-3000:]}", hint=str(self.local.airflow_home))
        return ids

    def query(self, sql: str, *args) -> list[tuple]:
        """Rows of a query on the metadata DB (run and task states)."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.postgres.port, user="airflow", dbname="airflow")
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def task_states(self, run_id: str) -> dict[str, str]:
        """``task_id`` → state of one DAG run."""
        return dict(self.query("SELECT task_id, state FROM task_instance WHERE run_id = %s", run_id))

    def run_state(self, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE run_id = %s", run_id)
        return rows[0][0] if rows else None

    def wait_dags(self, dag_ids: list[str], timeout: float = 300) -> None:
        """Wait until the DAG processor has stored these DAGs."""
        def stored() -> bool:
            rows = self.query("SELECT dag_id FROM dag WHERE dag_id = ANY(%s)", dag_ids)
            return len(rows) == len(dag_ids)

        wait_for(f"DAGs {dag_ids}", stored, self.processes, timeout)

    def wait_runs(self, run_ids: list[str], timeout: float = 600) -> dict[str, str]:
        """Wait until every run has ended; their states."""
        wait_for(f"runs {run_ids}", lambda: all(self.run_state(r) in ("success", "failed") for r in run_ids),
                 self.processes, timeout)
        return {r: self.run_state(r) for r in run_ids}


def _trigger(runs: list[list]) -> None:
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunTriggeredByType

    with create_session() as session:
        for dag_id, _ in runs:
            session.query(DagModel).filter(DagModel.dag_id == dag_id).update({"is_paused": False})
    for number, (dag_id, conf) in enumerate(runs):
        run_id = f"gcmx_{number}_{secrets.token_hex(4)}"
        trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.CLI, run_id=run_id, conf=conf)
        sys.stdout.write(RUN_MARK + run_id + "\n")


def try_it(base: Path) -> None:
    """``make airflow-cluster``: KHM's distributed Airflow over a local SeaweedFS with KHM and THA
    provisioned, until Ctrl-C (or SIGTERM), which stops everything it started."""
    from exchange.devkit.airflow_local import s3_connection
    from exchange.devkit.bootstrap import provision
    from exchange.devkit.seaweed import new_server

    def interrupted(*_):
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # also when started in the background
        signal.signal(sig, interrupted)
    server = new_server(base / "s3", ("KHM", "THA"), [("KHM", "THA")]).start()
    homes = provision(base / "parties", ("KHM", "THA"), [("KHM", "THA")])
    creds = server.credentials["KHM"]
    local = LocalAirflow("KHM", homes["KHM"], base / "airflow",
                         s3_connection(server.endpoint, creds.access_key_id, creds.secret_access_key))
    cluster = AirflowCluster(local)
    try:
        print(f"starting PostgreSQL, Redis and Airflow (API server, scheduler, DAG processor, {WORKERS} Celery "
              f"workers) under {base} ...", flush=True)
        cluster.start()
        print(f"\nKHM's Airflow: http://127.0.0.1:{cluster.api_port}  (metadata DB {cluster.postgres.url}, "
              f"broker {cluster.redis.url}, S3 {server.endpoint})\nlogs: {base / 'airflow'}/*.log; "
              f"Ctrl-C stops everything", flush=True)
        while all(p.alive() for p in cluster.processes):
            time.sleep(2)
        print("an Airflow process ended; see its log", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        server.stop()


def main(argv: list[str]) -> int:
    if argv[:1] == ["trigger"]:
        _trigger(json.loads(argv[1]))
        return 0
    base = Path(argv[0] if argv else os.environ.get("GCMX_CLUSTER_DIR", "var/airflow-cluster")).resolve()
    base.mkdir(parents=True, exist_ok=True)
    try_it(base)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
