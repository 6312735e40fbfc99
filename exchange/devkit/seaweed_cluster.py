"""A multi-process SeaweedFS on loopback: master, two volume servers, filer and S3 gateway.

The same S3 API and identities as :mod:`exchange.devkit.seaweed` (``weed mini`` in one process),
laid out as SeaweedFS runs across machines: the S3 gateway holds no data and asks the filer,
the filer keeps the names and asks the master where to put each chunk, the volume servers hold
the chunks. Tests run the protocol suite on it with ``GCMX_TEST_SEAWEED=cluster``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from exchange.devkit.seaweed import SeaweedServer, directions, free_port, new_server, s3_config, weed_binary

PORTS = ("master", "master.grpc", "volume1", "volume1.grpc", "volume2", "volume2.grpc",
         "filer", "filer.grpc", "s3.port", "s3.grpc")


@dataclass
class SeaweedCluster(SeaweedServer):
    """Five ``weed`` processes, each in its own process group; ``process`` is the S3 gateway."""

    others: list[subprocess.Popen] = field(default_factory=list)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        process = subprocess.Popen([weed_binary(), *args], stdout=log, stderr=subprocess.STDOUT,
                                   cwd=self.directory, start_new_session=True)
        log.close()
        return process

    def _start(self, timeout: float) -> None:
        p, loop = self.ports, ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        master = f"127.0.0.1:{p['master']}.{p['master.grpc']}"
        config = self.directory / "s3.json"
        config.write_text(json.dumps(s3_config(self.credentials, self.buckets)))
        config.chmod(0o600)
        for name in ("master", "volume1", "volume2", "filer"):
            (self.directory / name).mkdir(exist_ok=True)
        self.others = [
            self._spawn("master", ["master", *loop, f"-port={p['master']}", f"-port.grpc={p['master.grpc']}",
                                   f"-mdir={self.directory / 'master'}", "-volumeSizeLimitMB=64"]),
            *(self._spawn(name, ["volume", *loop, f"-port={p[name]}", f"-port.grpc={p[name + '.grpc']}",
                                 f"-dir={self.directory / name}", f"-master={master}", "-max=20"])
              for name in ("volume1", "volume2")),
            self._spawn("filer", ["filer", *loop, f"-port={p['filer']}", f"-port.grpc={p['filer.grpc']}",
                                  f"-master={master}", f"-defaultStoreDir={self.directory / 'filer'}"]),
        ]
        self.process = self._spawn("s3", ["s3", "-ip.bind=127.0.0.1", f"-port={p['s3.port']}",
                                          f"-port.grpc={p['s3.grpc']}", f"-config={config}",
                                          f"-filer=127.0.0.1:{p['filer']}.{p['filer.grpc']}",
                                          "-port.iceberg=0", "-port.lance=0"])
        (self.directory / "weed.log").touch()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        try:
            super()._wait_ready(timeout)
        except Exception:
            tails = {name: (self.directory / f"{name}.log").read_text(errors="replace")[-600:]
                     for name in ("master", "volume1", "filer", "s3") if (self.directory / f"{name}.log").exists()}
            (self.directory / "weed.log").write_text(json.dumps(tails, indent=1))
            raise

    def _signal_all(self, sig: int) -> None:
        """Signal every process group, give them 5 s together (a test server's data need not
        outlive it), then kill what is left."""
        processes = [p for p in [self.process, *reversed(self.others)] if p is not None]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
        deadline = time.monotonic() + 5
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.process, self.others = None, []

    def stop(self) -> None:
        """Stop every process by its process group; safe to call twice."""
        self._signal_all(signal.SIGTERM)

    def kill(self) -> None:
        """Kill every process abruptly (for fault tests); ``start()`` brings them back."""
        self._signal_all(signal.SIGKILL)


def new_cluster(directory: Path, parties: Iterable[str], pairs: Iterable[tuple[str, str]]) -> SeaweedCluster:
    """Describe a multi-process SeaweedFS with fresh credentials per party and free ports (not started)."""
    single = new_server(directory, parties, pairs)
    ports = {name: free_port() for name in PORTS}
    return SeaweedCluster(directory, f"http://127.0.0.1:{ports['s3.port']}", single.credentials,
                          directions(pairs), ports)
