"""Validation in a worker process of its own: spawned once per process, GX set up there once.

The same process first checks a received Parquet file (exchange/protocol/parquet_guard.py)
before validation reads it: untrusted data is decoded there, never in the caller.

GX's import and context set-up (seconds, some 270 MB) and its run are Python work. On a
thread beside protection or a download they hold the interpreter lock the other work
needs, and their memory adds to the caller's peak. In a spawned worker they run beside
it on another core and stay out of the caller's memory; the caller gets the plain
:class:`~exchange.contract.validation.ValidationReport` back.

``start()`` spawns the worker and starts setting GX up there on a thread of its own, so a
caller starts it first and validates later (``publish`` beside protection, ``pull`` beside
the download); the worker meanwhile takes other calls (the Parquet checks, reading the
file into a frame). The worker is kept for the next validation of the same process and
ends with it.
"""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from exchange.contract.model import Contract
from exchange.contract.validation import EXCHANGED, ValidationReport, warm_up
from exchange.contract.validation import validate as validate_here
from exchange.errors import ContractError
from exchange.spawned import SpawnedWorker

worker = SpawnedWorker()


def start() -> Future:
    """Spawn the worker (if not yet) and start setting GX up in it; returns at once."""
    return worker.submit(warm_up)


def validate(parquet_path: Path, contract: Contract, form: str = EXCHANGED) -> ValidationReport:
    """:func:`exchange.contract.validation.validate` run in the worker (same arguments, same
    report, same ContractError when validation cannot run); a ContractError too when the
    worker dies while validating (the next call spawns a new one)."""
    try:
        return worker.submit(validate_here, Path(parquet_path), contract, form).result()
    except BrokenProcessPool:
        raise ContractError(f"{Path(parquet_path).name} (contract {contract.id}): the validating process "
                            "died (out of memory?)", hint="free memory and run again",
                            contract=contract.id, dataset=contract.dataset) from None
