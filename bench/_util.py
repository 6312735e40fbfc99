"""Shared by the benchmarks: run one step in a fresh process and measure it.

The step's own process is the unit of measurement, so its peak RSS (from ``os.wait4``)
is that step's alone, never mixed with an earlier, larger one. A step reports what it
measured by printing one JSON object as its last line (``report(...)``); ``seconds``
there wins over the wall time seen from outside (which includes interpreter start-up).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Measured:
    """What one step took: seconds, peak resident memory, and everything it reported."""

    seconds: float
    peak_rss_mb: float
    report: dict = field(default_factory=dict)


def run_measured(argv: list[str]) -> Measured:
    """Run ``argv`` as a child process; return its reported (or wall) seconds and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)  # noqa: S603
    output = proc.stdout.read()  # type: ignore[union-attr]  # drain first: no pipe deadlock
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()  # type: ignore[union-attr]
    if proc.returncode:
        raise SystemExit(f"benchmark step failed (exit {proc.returncode}): {' '.join(argv[1:5])}")
    lines = [line for line in output.decode(errors="replace").splitlines() if line.startswith("{")]
    reported = json.loads(lines[-1]) if lines else {}
    return Measured(float(reported.get("seconds", wall)), usage.ru_maxrss / 1024, reported)


def report(**values) -> None:
    """Print what this step measured, as the one JSON line ``run_measured`` reads."""
    print(json.dumps(values), flush=True)
