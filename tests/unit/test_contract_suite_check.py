"""Contract ↔ suite drift is caught with precise messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from exchange.contract.model import load_contract
from exchange.contract.suite import check_suite
from exchange.errors import ContractError
from exchange.settings import PROJECT_ROOT

CONTRACT = "children_on_the_move.khm-tha"


@pytest.fixture
def contracts_dir(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "contracts", tmp_path / "contracts")
    shutil.copytree(PROJECT_ROOT / "expectations", tmp_path / "expectations")
    return tmp_path / "contracts"


def _edit_suite(contracts_dir: Path, edit) -> None:
    path = contracts_dir.parent / "expectations" / f"{CONTRACT}-1.0.0.json"
    suite = json.loads(path.read_text())
    edit(suite)
    path.write_text(json.dumps(suite))


def _drift(contracts_dir: Path) -> str:
    with pytest.raises(ContractError) as info:
        check_suite(load_contract(CONTRACT, contracts_dir))
    return info.value.message


def _find(suite, kind, column):
    return next(e for e in suite["expectations"] if e["type"] == kind and e["kwargs"].get("column") == column)


def test_codelist_drift(contracts_dir: Path):
    _edit_suite(
        contracts_dir,
        lambda s: _find(s, "expect_column_values_to_be_in_set", "sex")["kwargs"]["value_set"].remove("_T"),
    )
    assert "column 'sex': expect_column_values_to_be_in_set differs (value_set: suite lacks ['_T']" in _drift(
        contracts_dir
    )


def test_missing_nullability_expectation(contracts_dir: Path):
    _edit_suite(
        contracts_dir,
        lambda s: s["expectations"].remove(_find(s, "expect_column_values_to_not_be_null", "care_situation")),
    )
    assert "column 'care_situation': suite lacks expect_column_values_to_not_be_null" in _drift(contracts_dir)


def test_nullability_tightened_in_suite(contracts_dir: Path):
    _edit_suite(
        contracts_dir,
        lambda s: s["expectations"].append(
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "children"}}
        ),
    )
    assert (
        "column 'children': suite has expect_column_values_to_not_be_null the contract does not imply"
        in _drift(contracts_dir)
    )


def test_expectation_on_unknown_column(contracts_dir: Path):
    _edit_suite(
        contracts_dir,
        lambda s: s["expectations"].append(
            {"type": "expect_column_values_to_be_increasing", "kwargs": {"column": "birth_date"}}
        ),
    )
    assert "names column 'birth_date', which the contract lacks" in _drift(contracts_dir)


def test_suite_for_another_version(contracts_dir: Path):
    _edit_suite(contracts_dir, lambda s: s.update(name=f"{CONTRACT}-0.9.0"))
    assert f"should be '{CONTRACT}-1.0.0' (a suite for another contract or version)" in _drift(contracts_dir)


def test_hand_written_extras_are_kept(contracts_dir: Path):
    _edit_suite(
        contracts_dir,
        lambda s: s["expectations"].append(
            {"type": "expect_column_max_to_be_between", "kwargs": {"column": "children", "max_value": 100000}}
        ),
    )
    check_suite(load_contract(CONTRACT, contracts_dir))


def test_a_suite_evaluating_the_ecma_pattern_with_python_rules_is_out_of_date(contracts_dir: Path):
    contract = load_contract(CONTRACT, contracts_dir)
    ecma = contract.columns["period"].pattern
    _edit_suite(
        contracts_dir,
        lambda s: _find(s, "expect_column_values_to_match_regex", "period")["kwargs"].update(regex=ecma),
    )
    message = _drift(contracts_dir)
    assert "column 'period': expect_column_values_to_match_regex differs (regex: contract says" in message
    assert "the suite is out of date" in message


def test_the_suites_hold_the_translated_patterns():
    from exchange.contract.model import all_contracts
    from exchange.contract.patterns import ecma_to_python

    for contract in all_contracts():
        suite = json.loads(contract.suite_path.read_text())
        for name, column in contract.columns.items():
            if column.pattern:
                found = _find(suite, "expect_column_values_to_match_regex", name)
                assert found["kwargs"]["regex"] == ecma_to_python(column.pattern) != column.pattern
                assert found["meta"]["ecmaPattern"] == column.pattern


def test_a_contract_pattern_without_an_exact_python_meaning_is_refused(contracts_dir: Path):
    path = contracts_dir / f"{CONTRACT}.odcs.yaml"
    path.write_text(path.read_text().replace("pattern: ^\\d{4}-(?:0[1-9]|1[0-2])$", "pattern: (?i)^\\d{4}$"))
    assert "column period: pattern '(?i)^\\\\d{4}$'" in _drift(contracts_dir)


def test_generator_rederives_stale_suites_and_keeps_hand_written_rules(contracts_dir: Path, monkeypatch):
    from exchange.devkit import contract_generator as generator

    ecma = load_contract(CONTRACT, contracts_dir).columns["period"].pattern
    _edit_suite(
        contracts_dir,
        lambda s: _find(s, "expect_column_values_to_match_regex", "period")["kwargs"].update(regex=ecma),
    )
    assert "the suite is out of date" in _drift(contracts_dir)
    contract_text = (contracts_dir / f"{CONTRACT}.odcs.yaml").read_text()
    monkeypatch.setattr(generator, "ROOT", contracts_dir.parent)
    monkeypatch.setattr("sys.argv", ["contract_generator", "--suites-only"])
    generator.main()
    check_suite(load_contract(CONTRACT, contracts_dir))
    suite = json.loads((contracts_dir.parent / "expectations" / f"{CONTRACT}-1.0.0.json").read_text())
    assert {e["meta"].get("notes") for e in suite["expectations"]} >= {"one row per cell", "a file covers one period"}
    assert (contracts_dir / f"{CONTRACT}.odcs.yaml").read_text() == contract_text
