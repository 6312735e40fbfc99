"""Contract terms are parsed once (exchange.contract.terms), with the ODCS pydantic model, and
the DAG factory takes the same terms as a loaded contract."""

from __future__ import annotations

import shutil

import pytest
import yaml

from exchange.contract.model import all_contracts
from exchange.contract.terms import contract_terms, terms_from_document
from exchange.errors import ContractError
from exchange.orchestration import airflow_glue
from exchange.settings import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "contracts"


def test_the_dag_factory_and_a_loaded_contract_read_the_same_terms():
    assert airflow_glue.contract_terms is contract_terms
    fast = {t.id: t for t in contract_terms(CONTRACTS)}
    loaded = all_contracts(CONTRACTS)
    assert sorted(fast) == [c.id for c in loaded]
    for contract in loaded:
        terms = fast[contract.id]
        for name in ("version", "name", "dataset", "sender", "recipients", "schedule", "period",
                     "classification", "revision_policy", "retention", "usage", "legal_basis"):
            assert getattr(terms, name) == getattr(contract, name), (contract.id, name)


def _document(contract_id: str = "workers_deployed.khm-tha") -> dict:
    return yaml.safe_load((CONTRACTS / f"{contract_id}.odcs.yaml").read_text())


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(version=3), "version"),
    (lambda d: d.update(customProperties="sender: KHM"), "customProperties"),
    (lambda d: d.update(id="workers-deployed"), "is not '<dataset>.<sender>-<recipient>'"),
    (lambda d: d.update(customProperties=[p for p in d["customProperties"] if p["property"] != "legalBasis"]),
     "lack exchange terms ['legalBasis']"),
    (lambda d: d.pop("slaProperties"), "slaProperties must state the retention once"),
    (lambda d: d["schema"][0].update(name="other"), "does not match id"),
    (lambda d: d.update(customProperties=[{**p, "value": "weekly"} if p["property"] == "period" else p
                                          for p in d["customProperties"]]), "period 'weekly'"),
])
def test_a_broken_document_is_a_contract_error_naming_the_file(tmp_path, change, words):
    document = _document()
    change(document)
    with pytest.raises(ContractError) as err:
        terms_from_document(document, tmp_path / "x.odcs.yaml")
    assert words in err.value.message and "x.odcs.yaml" in err.value.message


def test_the_dag_factory_refuses_a_broken_contract_with_a_contract_error(tmp_path):
    shutil.copy(CONTRACTS / "workers_deployed.khm-tha.odcs.yaml", tmp_path)
    (tmp_path / "broken.khm-tha.odcs.yaml").write_text("id: [unclosed\n")
    with pytest.raises(ContractError, match="broken.khm-tha.odcs.yaml: malformed YAML"):
        contract_terms(tmp_path)
