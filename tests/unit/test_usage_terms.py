"""Retention, purpose and prohibited uses (exchange/contract/usage_terms.py): every contract states
them machine-readably, a contract without them is refused with a clear message, and their hash
is stable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from exchange.contract.model import all_contracts
from exchange.contract.terms import terms_from_document
from exchange.contract.usage_terms import REQUIRED_PROHIBITIONS, Retention
from exchange.errors import ContractError
from exchange.settings import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "contracts"


def _document() -> dict:
    return yaml.safe_load((CONTRACTS / "workers_deployed.khm-tha.odcs.yaml").read_text())


def _without(document: dict, name: str) -> dict:
    document["customProperties"] = [p for p in document["customProperties"] if p["property"] != name]
    return document


def test_every_contract_states_retention_purpose_and_prohibited_uses():
    for contract in all_contracts(CONTRACTS):
        usage = contract.usage
        assert usage.retention == Retention(5, "y", "published"), contract.id
        assert usage.purposes and REQUIRED_PROHIBITIONS <= set(usage.prohibited_uses), contract.id
        assert len(usage.sha256) == 64 and usage.contract_id == contract.id


def _retention(document: dict, **changes) -> dict:
    document["slaProperties"][0].update(changes)
    return document


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("slaProperties"), "slaProperties must state the retention once"),
    (lambda d: _retention(d, value="five"), "whole number of days, months or years"),
    (lambda d: _retention(d, unit="fortnights"), "whole number of days, months or years"),
    (lambda d: _without(d, "retentionStart"), "retentionStart None"),
    (lambda d: _without(d, "purpose"), "purpose must be a non-empty list"),
    (lambda d: _without(d, "prohibitedUses"), "prohibitedUses must be a non-empty list"),
    (lambda d: d["customProperties"][-1].update(value=["commercial_use"]),
     "prohibitedUses lacks ['decisions_about_individuals', 'immigration_enforcement']"),
    (lambda d: d["customProperties"][-1].update(value=["immigration_enforcement", "decisions_about_individuals",
                                                       "deportation"]), "unknown codes ['deportation']"),
])
def test_a_contract_without_machine_readable_terms_is_refused(tmp_path, change, words):
    document = _document()
    change(document)
    with pytest.raises(ContractError) as err:
        terms_from_document(document, tmp_path / "x.odcs.yaml")
    assert words in err.value.message and "x.odcs.yaml" in err.value.message
    assert err.value.hint


def test_the_terms_hash_changes_with_any_term_and_only_then(tmp_path):
    base = terms_from_document(_document(), tmp_path / "a.odcs.yaml").usage
    same = terms_from_document(_document(), tmp_path / "b.odcs.yaml").usage
    assert base.sha256 == same.sha256
    longer = terms_from_document(_retention(_document(), value=6), tmp_path / "c.odcs.yaml").usage
    assert longer.sha256 != base.sha256
    document = _document()
    document["customProperties"][-2]["value"] = ["research"]
    assert terms_from_document(document, tmp_path / "d.odcs.yaml").usage.sha256 != base.sha256


@pytest.mark.parametrize("retention, start, end", [
    (Retention(5, "y"), datetime(2026, 3, 1, 6, tzinfo=UTC), datetime(2031, 3, 1, 6, tzinfo=UTC)),
    (Retention(1, "y"), datetime(2028, 2, 29, tzinfo=UTC), datetime(2029, 2, 28, tzinfo=UTC)),
    (Retention(13, "m"), datetime(2026, 12, 31, tzinfo=UTC), datetime(2028, 1, 31, tzinfo=UTC)),
    (Retention(1, "m"), datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
    (Retention(30, "d"), datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)),
])
def test_retention_ends_on_the_calendar(retention, start, end):
    assert retention.ends(start) == end


def test_gcmx_contract_check_rejects_a_contract_without_the_terms(tmp_path):
    import shutil

    from click.testing import CliRunner

    from exchange.cli import main

    for name in ("contracts", "expectations"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name)
    path = tmp_path / "contracts" / "workers_deployed.khm-tha.odcs.yaml"
    path.write_text(yaml.safe_dump(_without(_document(), "prohibitedUses"), sort_keys=False))
    result = CliRunner().invoke(main, ["contract", "check", "workers_deployed.khm-tha"],
                                env={"GCMX_CONTRACTS": str(tmp_path / "contracts"),
                                     "GCMX_EXPECTATIONS": str(tmp_path / "expectations")})
    assert result.exit_code == 1 and "prohibitedUses must be a non-empty list of codes" in result.output
