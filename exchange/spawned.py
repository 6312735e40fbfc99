"""A worker process of our own, spawned on first use and kept for the process's life.

The Parquet guard decodes untrusted files in one (a malformed file may crash it, not us); the
validation worker runs Great Expectations in one (off our interpreter lock and memory). Both
must also work inside a Celery worker, whose task processes billiard forked as daemons:
multiprocessing refuses children to a daemonic process, because a daemon is killed without
waiting for them, and cannot hand billiard's authentication key to a spawned child. Both are
set aside for the moment of the spawn only.

A worker is joined when its parent exits normally. A parent that ends by ``os._exit`` (every
Airflow task process does) or is killed never tells it, and the worker's call queue does not
close (the worker holds both of its ends): so the worker watches its parent and ends itself
once the parent is gone, instead of staying behind with GX's memory after every task.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.process import AuthenticationString


@contextmanager
def _children_allowed() -> Iterator[None]:
    """Lift the refusal of children to a daemonic process, and give a process that billiard
    (Celery's multiprocessing) forked an authentication key the standard library can hand to
    a spawned child, for the moment of the spawn only."""
    config = multiprocessing.current_process()._config  # the flags Celery's pool sets
    daemonic, authkey = config.get("daemon", False), config.get("authkey")
    config["daemon"] = False
    if not isinstance(authkey, AuthenticationString):
        config["authkey"] = AuthenticationString(os.urandom(32))
    try:
        yield
    finally:
        config["daemon"] = daemonic
        if authkey is not None:
            config["authkey"] = authkey


PARENT_CHECK_SECONDS = 0.5


def _end_with_parent(parent: int) -> None:
    """In the worker: end this process as soon as ``parent`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class SpawnedWorker:
    """One spawned worker process: :meth:`submit` runs a function there."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_end_with_parent, initargs=(os.getpid(),))
            return self._pool

    def _forget(self, pool: ProcessPoolExecutor) -> None:
        """Drop ``pool`` (its worker died), unless another thread already replaced it."""
        with self._lock:
            if self._pool is pool:
                self._pool = None

    def _submit_once(self, function: Callable, *args) -> Future:
        pool = self._current()
        with _children_allowed():
            future = pool.submit(function, *args)
        future.add_done_callback(lambda done: self._forget(pool) if isinstance(
            done.exception(), BrokenProcessPool) else None)
        return future

    def submit(self, function: Callable, *args) -> Future:
        """``function(*args)`` in the worker, spawned now if there is none or the last one died;
        the future raises BrokenProcessPool if the worker dies while running it (and the next
        call spawns a new one)."""
        try:
            return self._submit_once(function, *args)
        except BrokenProcessPool:  # died since it last worked (killed, out of memory): a new one
            self._forget(self._pool)
        return self._submit_once(function, *args)
