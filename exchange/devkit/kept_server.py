"""Keep the demo's SeaweedFS running after ``make demo KEEP=1``, and stop it later.

The server runs in its own session, so it outlives the demo process; a small state file
beside its data (``{directory}/kept.json``) records its process id and endpoint, and
``make demo-stop`` (or the next ``make demo``) stops exactly that process.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from exchange.atomic import write_json_atomic
from exchange.devkit.seaweed import SeaweedServer
from exchange.errors import StoreUnavailable

STATE = "kept.json"


def keep_running(server: SeaweedServer) -> Path:
    """Leave ``server`` running and record how to find it; returns the state file."""
    if server.process is None or server.process.poll() is not None:
        raise StoreUnavailable(f"SeaweedFS in {server.directory} is not running: nothing to keep up",
                               hint=f"see {server.directory / 'weed.log'}, then run `make demo KEEP=1` again")
    return write_json_atomic(server.directory / STATE,
                             {"pid": server.process.pid, "endpoint": server.endpoint,
                              "data": str(server.directory / "data")})


def _alive(pid: int, data: str) -> bool:
    """True while ``pid`` is a live (not zombie) ``weed`` process serving ``data``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and f"-dir={data}".encode() in cmdline


def stop_kept(directory: Path, timeout: float = 15.0) -> str | None:
    """Stop the server ``keep_running`` left in ``directory``; its endpoint, or None if none ran.

    Only the recorded process is signalled, and only while it still is that SeaweedFS
    (same data folder), so a reused process id is never hit.
    """
    state_file = directory / STATE
    try:
        state = json.loads(state_file.read_text())
        pid, data, endpoint = int(state["pid"]), str(state["data"]), str(state["endpoint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if _alive(pid, data):
        os.killpg(pid, signal.SIGTERM)  # the server leads its own process group
        deadline = time.monotonic() + timeout
        while _alive(pid, data) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid, data):
            os.killpg(pid, signal.SIGKILL)
    state_file.unlink()
    return endpoint
