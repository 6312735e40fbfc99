"""Validation in the worker process: the same report as in this process, a worker that died is
replaced, and one that dies while validating is a ContractError."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool

import pytest

from exchange.contract import validation_worker
from exchange.contract.model import load_contract
from exchange.contract.validation import validate
from exchange.devkit.synthetic import write_dataset
from exchange.errors import ContractError

CONTRACT, PERIOD = "returnees.tha-khm", "2025-03"


def test_worker_reports_what_validation_here_reports(tmp_path):
    contract = load_contract(CONTRACT)
    clean = write_dataset(contract, tmp_path / "clean.parquet", PERIOD, rows=200, seed=1)
    broken = write_dataset(contract, tmp_path / "broken.parquet", PERIOD, rows=200, seed=1,
                           violations=["unknown_code"])
    validation_worker.start().result()
    for path in (clean, broken):
        apart, here = validation_worker.validate(path, contract, form="raw"), validate(path, contract, form="raw")
        assert apart.to_dict() == here.to_dict()
    assert validation_worker.validate(clean, contract, form="raw").success
    assert not validation_worker.validate(broken, contract, form="raw").success


def test_worker_passes_on_a_contract_error(tmp_path):
    contract = load_contract(CONTRACT)
    (tmp_path / "empty.parquet").write_bytes(b"")
    with pytest.raises(ContractError, match="empty"):
        validation_worker.validate(tmp_path / "empty.parquet", contract)


def test_a_worker_that_died_is_replaced(tmp_path):
    contract = load_contract(CONTRACT)
    clean = write_dataset(contract, tmp_path / "clean.parquet", PERIOD, rows=50, seed=1)
    with pytest.raises(BrokenProcessPool):
        validation_worker.worker.submit(os._exit, 1).result()  # killed between two validations
    assert validation_worker.validate(clean, contract, form="raw").success  # by a new worker


def test_a_worker_dying_while_validating_is_a_contract_error(tmp_path, monkeypatch):
    contract = load_contract(CONTRACT)
    clean = write_dataset(contract, tmp_path / "clean.parquet", PERIOD, rows=50, seed=1)
    submit = validation_worker.worker.submit
    monkeypatch.setattr(validation_worker.worker, "submit", lambda *args: submit(os._exit, 1))  # dies instead
    with pytest.raises(ContractError, match="validating process died"):
        validation_worker.validate(clean, contract, form="raw")
    monkeypatch.undo()
    assert validation_worker.validate(clean, contract, form="raw").success  # the next call: a new worker
