"""The spawned worker works where Celery runs tasks: inside a daemonic process that billiard
forked (multiprocessing refuses such a process children and cannot pickle billiard's
authentication key unless told otherwise), and it is replaced after it died."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from exchange.spawned import SpawnedWorker


def _pid_of_a_worker(results) -> None:
    """In a daemonic process (as a Celery task runs): spawn a worker and report its pid."""
    worker = SpawnedWorker()
    try:
        results.put(("ok", worker.submit(os.getpid).result(), multiprocessing.current_process().daemon))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails with it
        results.put(("error", repr(exc), None))


def _spawn_context():
    return multiprocessing.get_context("spawn")


def _billiard():
    return pytest.importorskip("billiard")  # Celery's multiprocessing (the dev extra's celery provider)


@pytest.mark.parametrize("maker", [_spawn_context, _billiard], ids=["daemonic-process", "celery-billiard-task"])
def test_a_task_process_like_celerys_can_use_a_spawned_worker(maker):
    context = maker()
    results = context.Queue()
    task = context.Process(target=_pid_of_a_worker, args=(results,), daemon=True)
    task.start()
    outcome, pid, still_daemonic = results.get(timeout=120)
    task.terminate()  # what it had to show is in; how a multiprocessing child ends is not the point
    task.join(timeout=120)
    assert outcome == "ok", pid
    assert pid != task.pid and still_daemonic is True  # the flag is back as it was


def test_a_worker_that_died_is_replaced_by_the_next_submit():
    worker = SpawnedWorker()
    first = worker.submit(os.getpid).result()
    with pytest.raises(BrokenProcessPool):
        worker.submit(os._exit, 1).result()
    assert worker.submit(os.getpid).result() != first


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie no one reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_worker_ends_when_its_parent_ends_by_os_exit():
    """An Airflow task process ends by os._exit and never shuts its pool down: the worker sees
    its parent gone and ends too, instead of staying behind with GX's memory."""
    import subprocess
    import sys
    import time

    code = ("import os\nfrom exchange.spawned import SpawnedWorker\n"
            "if __name__ == '__main__':\n"
            "    print(SpawnedWorker().submit(os.getpid).result(), flush=True)\n"
            "    os._exit(0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    worker = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 60  # it checks twice a second; a loaded machine may take longer
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(worker)
