"""A gate for tests of concurrent DAG runs on Celery workers: imported by the test's DAG file, so it
is in every task process. A publish stops right after it claimed its revision and sequence (before
its upload) until the test creates ``release`` in the gate folder; ``reached-<pid>`` says it is there.
Retries come every 2 s (not Airflow's 20 s and more), so a run that met a busy exchange soon
finds it published. Waiting polls a file the test controls: it never races a timer."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path


def install(folder: str) -> None:
    from exchange.orchestration import airflow_glue
    from exchange.protocol import outbound
    from exchange.protocol.claims import Allocation

    gate = Path(folder)
    airflow_glue.DEFAULT_ARGS.update(retries=60, retry_delay=timedelta(seconds=2), retry_exponential_backoff=0,
                                     max_retry_delay=timedelta(seconds=2))
    if getattr(outbound.allocate, "gated", False):
        return
    original = outbound.allocate

    def allocate(*args, **kwargs):
        claimed = original(*args, **kwargs)
        if isinstance(claimed, Allocation):
            (gate / f"reached-{os.getpid()}").write_text(claimed.exchange_id)
            while not (gate / "release").exists():
                time.sleep(0.2)
        return claimed

    allocate.gated = True
    outbound.allocate = allocate
