"""exchange.report.expectations: parameters in words, the suite joined only by the validated hash."""

from __future__ import annotations

from exchange.contract.model import REPOSITORY_CONTRACTS, expectations_beside, load_contract
from exchange.report.expectations import expectation_rows, load_suite, mismatch_words, parameters

CONTRACT = "children_on_the_move.khm-tha"
SOURCES = ((REPOSITORY_CONTRACTS, expectations_beside(REPOSITORY_CONTRACTS)),)


def test_parameters_in_words():
    shown = dict(parameters({"type": "expect_column_values_to_be_between",
                             "kwargs": {"column": "children", "min_value": 0, "max_value": 9, "strict_max": True,
                                        "mostly": 0.99}}))
    assert shown == {"bounds": "0 ≤ value < 9", "mostly": "0.99"}
    assert dict(parameters({"type": "expect_column_values_to_be_in_set",
                            "kwargs": {"column": "sex", "value_set": [f"C{i}" for i in range(50)]}})) == {
        "allowed values": ", ".join(f"C{i}" for i in range(40)) + ", … (50 in all)"}
    assert dict(parameters({"type": "expect_column_values_to_match_regex", "kwargs": {"regex": "^a\\Z"},
                            "meta": {"ecmaPattern": "^a$"}})) == {"pattern (ECMA-262)": "^a$"}
    assert dict(parameters({"type": "expect_table_row_count_to_be_between",
                            "kwargs": {"min_value": 1, "max_value": None}})) == {"rows": "value ≥ 1"}


def test_suite_only_for_the_validated_hash():
    real = load_contract(CONTRACT).hash
    load_suite.cache_clear()
    assert load_suite(CONTRACT, real, SOURCES)["name"] == f"{CONTRACT}-1.0.0"
    assert load_suite(CONTRACT, "ab" * 32, SOURCES) is None  # another version of the suite: no parameters
    assert load_suite("no_such.contract", real, SOURCES) is None


def test_a_summary_lists_every_expectation_of_the_suite():
    suite = load_suite(CONTRACT, load_contract(CONTRACT).hash, SOURCES)
    summary = {"success": False, "row_count": 540, "evaluated": len(suite["expectations"]),
               "failed": [{"expectation": "expect_column_values_to_be_in_set(sex)", "unexpected_count": 3}]}
    rows, missing, extra = expectation_rows(summary, suite)
    assert len(rows) == len(suite["expectations"]) and (missing, extra) == ([], [])
    failed = [r for r in rows if r["outcome"] != "passed"]
    assert [(r["expectation"], r["column"], r["failing_rows"]) for r in failed] == [
        ("expect_column_values_to_be_in_set", "sex", 3)]
    null_check = next(r for r in rows if r["expectation"] == "expect_column_values_to_not_be_null")
    assert (null_check["rows_checked"], null_check["failing_rows"]) == (540, 0)
    table = next(r for r in rows if r["expectation"] == "expect_table_columns_to_match_set")
    assert table["table_level"] and table["failing_rows"] is None


def test_a_summary_that_does_not_match_the_suite_claims_nothing():
    suite = load_suite(CONTRACT, load_contract(CONTRACT).hash, SOURCES)
    rows, _, _ = expectation_rows({"row_count": 5, "evaluated": 3, "failed": []}, suite)
    assert {r["outcome"] for r in rows} == {"not recorded"}


def test_missing_and_extra_columns_in_words():
    suite = load_suite(CONTRACT, load_contract(CONTRACT).hash, SOURCES)
    columns = next(e["kwargs"]["column_set"] for e in suite["expectations"]
                   if e["type"] == "expect_table_columns_to_match_set")
    observed = [c for c in columns if c != "sex"] + ["passport_no", "<b>not a name</b>"]
    report = {"outcomes": [{"expectation": "expect_table_columns_to_match_set", "success": False,
                            "observed": observed, "counts": {}}]}
    _, missing, extra = expectation_rows(report, suite)
    assert (missing, extra) == (["sex"], ["passport_no"])  # a name that is not a column name is dropped
    assert mismatch_words(missing, extra) == "column `sex` is missing; column `passport_no` is not in the contract"
    assert mismatch_words([], []) is None
