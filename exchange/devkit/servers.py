"""PostgreSQL and Redis on loopback for the distributed set-up (:mod:`exchange.devkit.airflow_cluster`).

Debian's ``postgresql`` and ``redis-server`` packages (``make tools`` installs them); each server
runs in its own process group on a free loopback port with its data in a folder of its own, and
is stopped by its process group. PostgreSQL refuses to run as root: as root, it runs as the
``postgres`` system user the package creates, with its data in a folder that user owns.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from exchange.devkit.seaweed import free_port
from exchange.errors import ConfigError, StoreUnavailable

POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _binary(name: str, extra: list[Path] | None = None) -> str:
    for folder in extra or []:
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise ConfigError(f"{name} not found", hint="install Debian's postgresql and redis-server: `make tools`")
    return found


@dataclass
class Process:
    """One server process in its own process group, with its log."""

    name: str
    args: list[str]
    log: Path
    user: str | None = None
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, cwd: Path) -> Process:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen([*prefix, *self.args], stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                        env=self.env, start_new_session=True)
        out.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal the process group, wait, kill it if it does not end; safe to call twice."""
        if self.process is None:
            return
        try:
            if self.process.poll() is None:
                os.killpg(self.process.pid, sig)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        except ProcessLookupError:  # it ended in the meantime
            self.process.wait()
        self.process = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def wait_for(what: str, ready, processes: list[Process], timeout: float) -> None:
    """Poll ``ready()`` until it is true; StoreUnavailable with the logs if a process ends or time runs out."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        dead = [p for p in processes if not p.alive()]
        if dead:
            raise StoreUnavailable(f"{dead[0].name} ended while starting {what}:\n{dead[0].tail()}",
                                   hint=f"see {dead[0].log}")
        try:
            if ready():
                return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(0.3)
    raise StoreUnavailable(f"{what} did not start within {timeout:.0f}s ({last})",
                           hint=" ".join(str(p.log) for p in processes))


@dataclass
class Postgres:
    """A PostgreSQL cluster with one database ``airflow`` owned by the role ``airflow`` (trust on loopback)."""

    directory: Path
    port: int = field(default_factory=free_port)
    server: Process | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def start(self, timeout: float = 60) -> Postgres:
        user = "postgres" if os.geteuid() == 0 else None
        # the data lives where the server's user can reach it (a root-only tmp folder would not do)
        data = Path(tempfile.mkdtemp(prefix="gcmx-pg-"))
        (self.directory / "pgdata").write_text(str(data))
        if user:
            shutil.chown(data, user, user)
        initdb = Process("initdb", [_binary("initdb", POSTGRES_BINARIES), "-D", str(data / "db"), "-U", "airflow",
                                    "--auth=trust", "-E", "UTF8", "--no-sync"], self.directory / "initdb.log", user)
        initdb.start(data)
        if initdb.process.wait(timeout=120):
            raise ConfigError(f"initdb failed: {initdb.tail()}", hint=str(initdb.log))
        self.server = Process("postgres", [_binary("postgres", POSTGRES_BINARIES), "-D", str(data / "db"),
                                           "-h", "127.0.0.1", "-p", str(self.port), "-k", str(data),
                                           "-c", "fsync=off", "-c", "synchronous_commit=off",
                                           "-c", "full_page_writes=off", "-c", "max_connections=200"],
                              self.directory / "postgres.log", user).start(data)
        wait_for("PostgreSQL", self._create_database, [self.server], timeout)
        return self

    def _create_database(self) -> bool:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="airflow", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
            if cursor.fetchone() is None:
                cursor.execute("CREATE DATABASE airflow")
        connection.close()
        return True

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the data folder."""
        if self.server is not None:
            self.server.stop(signal.SIGINT)
        marker = self.directory / "pgdata"
        if marker.exists():
            shutil.rmtree(marker.read_text(), ignore_errors=True)
            marker.unlink()


@dataclass
class Redis:
    """A Redis without persistence: Celery's broker."""

    directory: Path
    port: int = field(default_factory=free_port)
    server: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> Redis:
        self.server = Process("redis", [_binary("redis-server"), "--bind", "127.0.0.1", "--port", str(self.port),
                                        "--save", "", "--appendonly", "no", "--dir", str(self.directory)],
                              self.directory / "redis.log").start(self.directory)

        def ping() -> bool:
            import redis

            return bool(redis.Redis(host="127.0.0.1", port=self.port).ping())

        wait_for("Redis", ping, [self.server], timeout)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
