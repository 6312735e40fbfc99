"""Contracts: loading, ODCS schema, registry lint, suite consistency, hashing, periods."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from exchange.contract.lint import lint_all
from exchange.contract.model import all_contracts, contracts_between, load_contract, parse_period
from exchange.contract.suite import check_suite
from exchange.errors import ContractError
from exchange.settings import PROJECT_ROOT

REQUIRED_IDS = {
    "workers_deployed.khm-tha",
    "workers_deployed.khm-mys",
    "workers_deployed.khm-kor",
    "workers_registered.tha-khm",
    "workers_registered.mys-khm",
    "workers_registered.kor-khm",
    "child_birth_registrations.tha-khm",
    "child_birth_registrations.mys-khm",
    "children_on_the_move.khm-tha",
    "children_on_the_move.tha-khm",
    "returnees.tha-khm",
}


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A writable copy of contracts/ and expectations/; returns the contracts dir."""
    shutil.copytree(PROJECT_ROOT / "contracts", tmp_path / "contracts")
    shutil.copytree(PROJECT_ROOT / "expectations", tmp_path / "expectations")
    return tmp_path / "contracts"


def test_every_required_contract_loads_lints_and_matches_its_suite():
    contracts = all_contracts()
    assert REQUIRED_IDS <= {c.id for c in contracts}
    for contract in contracts:
        check_suite(contract)
        assert len(contract.hash) == 64
        assert contract.suite_path.name == f"{contract.id}-{contract.version}.json"
    assert {p.name: f for p, f in lint_all(PROJECT_ROOT / "contracts").items() if f} == {}


def test_terms_and_classification():
    returnees = load_contract("returnees.tha-khm")
    assert (returnees.sender, returnees.recipients, returnees.period) == ("THA", ("KHM",), "monthly")
    assert returnees.restricted and returnees.carries_children_data
    assert returnees.disclosure["pseudonymise"] == ["person_id"]
    assert returnees.columns["sex"].nullable and returnees.columns["sex"].required
    workers = load_contract("workers_deployed.khm-tha")
    assert not workers.carries_children_data and workers.classification == "aggregate"
    assert not workers.columns["OBS_STATUS"].required and workers.columns["workers"].nullable
    assert workers.disclosure["totalCode"] == "_T" and "_T" in workers.columns["sex"].codelist
    assert load_contract("children_on_the_move.tha-khm").carries_children_data
    assert {c.dataset for c in contracts_between("khm", "tha")} == {
        "workers_deployed",
        "children_on_the_move",
    }


def test_parse_period():
    contract = load_contract("workers_deployed.khm-tha")
    period = parse_period(contract, "2024-02")
    assert (period.start, period.end) == (date(2024, 2, 1), date(2024, 2, 29))
    for bad in ("2024-13", "2024-Q1", "March", ""):
        with pytest.raises(ContractError, match="not a monthly period"):
            parse_period(contract, bad)


def test_hash_covers_the_suite(repo_copy: Path):
    before = load_contract("returnees.tha-khm", repo_copy).hash
    suite_path = repo_copy.parent / "expectations" / "returnees.tha-khm-1.0.0.json"
    suite = json.loads(suite_path.read_text())
    suite["notes"] = "edited"
    suite_path.write_text(json.dumps(suite))
    assert load_contract("returnees.tha-khm", repo_copy).hash != before


def test_malformed_yaml_names_file_and_line(repo_copy: Path):
    path = repo_copy / "returnees.tha-khm.odcs.yaml"
    path.write_text(path.read_text().replace("kind: DataContract", "kind: [DataContract"))
    with pytest.raises(ContractError, match=r"returnees.tha-khm.odcs.yaml: malformed YAML at line \d+"):
        load_contract("returnees.tha-khm", repo_copy)


def test_odcs_schema_violation_names_the_field(repo_copy: Path):
    path = repo_copy / "returnees.tha-khm.odcs.yaml"
    path.write_text(path.read_text().replace("logicalType: boolean", "logicalType: yesno"))
    with pytest.raises(ContractError, match=r"breaks the ODCS v3 schema: schema/0/properties/6"):
        load_contract("returnees.tha-khm", repo_copy)


def test_lint_finds_unknown_codelist_and_codes(repo_copy: Path):
    path = repo_copy / "workers_deployed.khm-tha.odcs.yaml"
    text = path.read_text().replace("value: CL_DEPLOYMENT_CHANNEL", "value: CL_NO_SUCH_LIST")
    path.write_text(text.replace("- G2G\n", "- G2X\n"))
    path = repo_copy / "returnees.tha-khm.odcs.yaml"
    path.write_text(path.read_text().replace("- KH-25\n", "- KH-99\n"))
    findings = {p.name: f for p, f in lint_all(repo_copy).items() if f}
    assert any(
        "column channel: unknown code list 'CL_NO_SUCH_LIST'" in f
        for f in findings["workers_deployed.khm-tha.odcs.yaml"]
    )
    assert any(
        "column province: codes ['KH-99'] are not in CL_KH_PROVINCE" in f
        for f in findings["returnees.tha-khm.odcs.yaml"]
    )
    assert len(findings) == 2


def test_lint_finds_flow_without_agreement(repo_copy: Path):
    registry = repo_copy / "parties.yaml"
    lines = registry.read_text().splitlines(keepends=True)
    registry.write_text("".join(line for line in lines if "dataset: returnees" not in line))
    findings = lint_all(repo_copy)[repo_copy / "returnees.tha-khm.odcs.yaml"]
    assert findings == ["no agreement lets THA send returnees to KHM"]


def test_unknown_contract_lists_known_ones():
    with pytest.raises(ContractError, match="no contract 'nope.khm-tha'") as info:
        load_contract("nope.khm-tha")
    assert "returnees.tha-khm" in info.value.hint
