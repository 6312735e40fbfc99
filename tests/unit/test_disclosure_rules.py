"""The contract's disclosure rules: parsing and clear errors."""

from __future__ import annotations

import dataclasses
import json

import pytest

from exchange.disclosure import DisclosureReport, DisclosureRules
from exchange.errors import DisclosureError

AGGREGATE = {"method": "aggregate", "countColumn": "count", "dimensions": ["sex", "age_group"],
             "totalCode": "_T", "minimumCellSize": 5,
             "protectionLevels": {"lower": 3, "upper": 4}}
RECORDS = {"method": "records", "quasiIdentifiers": ["sex", "age_band", "province"], "k": 5,
           "hierarchies": {"age_band": [{"Y0T4": "Y0T9", "Y5T9": "Y0T9"}, {"Y0T9": "Y0T17"}],
                           "province": [{"KH-1": "KH-NW"}]},
           "pseudonymise": ["person_id"]}


def test_aggregate_rules_parse_and_round_trip():
    rules = DisclosureRules.from_dict(AGGREGATE)
    assert rules.method == "aggregate" and rules.dimensions == ("sex", "age_group")
    assert rules.minimum_cell_size == 5
    assert (rules.protection_lower, rules.protection_upper) == (3, 4)
    assert rules.to_dict() == AGGREGATE
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.k = 2  # type: ignore[misc]


def test_record_rules_parse_and_round_trip():
    rules = DisclosureRules.from_dict(RECORDS)
    assert rules.quasi_identifiers == ("sex", "age_band", "province")
    assert rules.hierarchies["age_band"][1] == {"Y0T9": "Y0T17"}
    assert rules.to_dict() == RECORDS
    assert DisclosureRules.from_dict({"method": "none"}).to_dict() == {"method": "none"}


def test_defaults_follow_the_contract_shape():
    rules = DisclosureRules.from_dict({"method": "aggregate", "countColumn": "n",
                                       "dimensions": ["sex"]})
    assert (rules.total_code, rules.minimum_cell_size) == ("_T", 5)
    assert (rules.protection_lower, rules.protection_upper) == (5, 5)


@pytest.mark.parametrize("change, field", [
    ({"method": "mask"}, "disclosure.method"),
    ({"countColumn": None}, "disclosure.countColumn"),
    ({"dimensions": []}, "disclosure.dimensions"),
    ({"dimensions": ["sex", "sex"]}, "disclosure.dimensions"),
    ({"minimumCellSize": 0}, "disclosure.minimumCellSize"),
    ({"protectionInterval": 5}, "disclosure.protectionInterval"),
    ({"protectionLevels": {"lower": 0, "upper": 5}}, "disclosure.protectionLevels.lower"),
    ({"protectionLevels": {"lower": 2}}, "disclosure.protectionLevels"),
    ({"subtotals": {"sex": {"F": ["F"]}}}, "disclosure.subtotals.sex"),
    ({"subtotals": {"region": {"A": ["B"]}}}, "disclosure.subtotals.region"),
    ({"k": 5}, "disclosure.k"),
    ({"minimumCellsize": 5}, "disclosure.minimumCellsize"),
    ({"pseudonymise": ["id"]}, "disclosure.pseudonymise"),
])
def test_bad_aggregate_rules_name_the_field(change, field):
    with pytest.raises(DisclosureError) as error:
        DisclosureRules.from_dict({**AGGREGATE, **change})
    assert field in error.value.message and error.value.hint


@pytest.mark.parametrize("change, field", [
    ({"k": 0}, "disclosure.k"),
    ({"hierarchies": {"nationality": [{"A": "B"}]}}, "disclosure.hierarchies.nationality"),
    ({"hierarchies": {"province": [{"KH-1": 3}]}}, "disclosure.hierarchies.province[0]"),
    ({"hierarchies": {"province": []}}, "disclosure.hierarchies.province"),
    ({"pseudonymise": ["sex"]}, "disclosure.pseudonymise"),
    ({"countColumn": "n"}, "disclosure.countColumn"),
])
def test_bad_record_rules_name_the_field(change, field):
    with pytest.raises(DisclosureError) as error:
        DisclosureRules.from_dict({**RECORDS, **change})
    assert field in error.value.message


def test_report_is_json_and_counts_only():
    report = DisclosureReport(method="aggregate", rules=AGGREGATE, cells_total=10,
                              cells_primary_suppressed=2, cells_secondary_suppressed=2,
                              audit={"ok": True, "minimumCertifiedWidth": float("inf")})
    out = json.loads(json.dumps(report.to_dict()))
    assert out["cellsTotal"] == 10 and out["audit"]["minimumCertifiedWidth"] is None
    assert "kReached" not in out and report.ok
