"""Contract diff (breaking or not) and cryptographic agreement (in force or not)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.agreement import in_force, require_in_force, sign_contract
from exchange.contract.diff import diff_contracts
from exchange.contract.model import load_contract
from exchange.crypto.minisign import generate_keypair
from exchange.errors import ContractError
from exchange.settings import PROJECT_ROOT

CONTRACT_FILE = PROJECT_ROOT / "contracts" / "returnees.tha-khm.odcs.yaml"


def _doc():
    return yaml.safe_load(CONTRACT_FILE.read_text())


def _props(doc):
    return doc["schema"][0]["properties"]


def _prop(doc, name):
    return next(p for p in _props(doc) if p["name"] == name)


def _breaking(old, new):
    return [(c.where, c.message) for c in diff_contracts(old, new) if c.breaking]


def test_identical_contracts_have_no_changes():
    assert diff_contracts(_doc(), _doc()) == []


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda d: _props(d).remove(_prop(d, "return_reason")), "column return_reason"),
        (lambda d: _prop(d, "unaccompanied_minor").update(name="minor"), "column unaccompanied_minor"),
        (
            lambda d: _prop(d, "unaccompanied_minor").update(logicalType="string"),
            "column unaccompanied_minor",
        ),
        (lambda d: _prop(d, "sex").update(required=True), "column sex"),
        (
            lambda d: _prop(d, "return_reason")["quality"][1]["arguments"]["validValues"].append("ILL"),
            "column return_reason",
        ),
        (
            lambda d: next(p for p in d["customProperties"] if p["property"] == "period").update(
                value="quarterly"
            ),
            "term period",
        ),
    ],
)
def test_breaking_changes(edit, where):
    new = _doc()
    edit(new)
    new["version"] = "2.0.0"
    assert where in {w for w, _ in _breaking(_doc(), new)}


def test_rename_is_reported_as_rename():
    new = _doc()
    _prop(new, "unaccompanied_minor").update(name="minor")
    assert ("column unaccompanied_minor", "renamed to minor") in _breaking(_doc(), new)


def test_non_breaking_changes_and_version_rule():
    new = _doc()
    _props(new).append({"name": "remarks", "logicalType": "string", "required": False})
    _prop(new, "person_id")["description"] = "reworded"
    changes = diff_contracts(_doc(), new)
    assert {(c.where, c.breaking) for c in changes} == {
        ("column remarks", False),
        ("column person_id", False),
    }
    removed = _doc()
    _props(removed).pop()
    assert ("version", "1.0.0 -> 1.0.0: breaking changes need a new major version") in _breaking(
        _doc(), removed
    )


def test_diff_cli_exit_codes(tmp_path: Path):
    new = _doc()
    _props(new).remove(_prop(new, "return_reason"))
    new_file = tmp_path / "new.odcs.yaml"
    new_file.write_text(yaml.safe_dump(new))
    runner = CliRunner()
    result = runner.invoke(main, ["contract", "diff", str(CONTRACT_FILE), str(new_file)])
    assert result.exit_code == 1 and "BREAKING  column return_reason: removed" in result.output
    same = runner.invoke(main, ["contract", "diff", str(CONTRACT_FILE), str(CONTRACT_FILE)])
    assert same.exit_code == 0 and "0 changes, 0 breaking" in same.output
    broken = tmp_path / "broken.odcs.yaml"
    broken.write_text("apiVersion: v3.1.0\nkind: DataContract\n")
    bad = runner.invoke(main, ["contract", "diff", str(CONTRACT_FILE), str(broken)])
    assert bad.exit_code == 2 and "breaks the ODCS v3 schema" in bad.output


@pytest.fixture
def contracts_dir(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "contracts", tmp_path / "contracts")
    shutil.copytree(PROJECT_ROOT / "expectations", tmp_path / "expectations")
    return tmp_path / "contracts"


def test_in_force_only_with_both_signatures_over_current_hash(tmp_path: Path, contracts_dir: Path):
    contract = load_contract("returnees.tha-khm", contracts_dir)
    (tha_secret, tha_public), (khm_secret, khm_public) = generate_keypair(), generate_keypair()
    keys = {"THA": tha_public, "KHM": khm_public}
    agreements = tmp_path / "agreements"
    path = sign_contract(contract, "THA", tha_secret, agreements)
    assert path.name == "returnees.tha-khm@1.0.0.THA.minisig"
    with pytest.raises(ContractError, match="KHM has not signed"):
        require_in_force(contract, agreements, keys)
    with pytest.raises(ContractError, match="MYS is not a party"):
        sign_contract(contract, "MYS", khm_secret, agreements)
    sign_contract(contract, "KHM", khm_secret, agreements)
    assert in_force(contract, agreements, keys)
    assert not in_force(contract, agreements, {"THA": tha_public, "KHM": tha_public})
    suite_path = contract.suite_path
    suite = json.loads(suite_path.read_text())
    suite["expectations"].append(copy.deepcopy(suite["expectations"][-1]) | {"meta": {"edited": True}})
    suite_path.write_text(json.dumps(suite))
    edited = load_contract("returnees.tha-khm", contracts_dir)
    with pytest.raises(ContractError, match="does not verify over the current hash"):
        require_in_force(edited, agreements, keys)
