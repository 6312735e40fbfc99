"""GX validation: clean data passes, every violation is caught, no restricted value leaks."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.model import load_contract
from exchange.contract.validation import validate
from exchange.devkit.synthetic import generate, write_dataset
from exchange.errors import ContractError

PERIOD = "2025-03"
REPRESENTATIVE = ["workers_registered.tha-khm", "children_on_the_move.khm-tha", "returnees.tha-khm"]
# violation -> the expectation that must fail, per kind of contract
CAUGHT = {
    "missing_column": "expect_table_columns_to_match_set",
    "extra_column": "expect_table_columns_to_match_set",
    "wrong_type": "expect_column_values_to_be_in_type_list",
    "null_in_required": "expect_column_values_to_not_be_null",
    "unknown_code": "expect_column_values_to_be_in_set",
    "out_of_range": ("expect_column_values_to_be_between", "expect_column_values_to_match_regex"),
    "bad_period": "expect_column_values_to_match_regex",
    "duplicate_rows": ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"),
    "empty": "expect_table_row_count_to_be_between",
}


@pytest.mark.parametrize(
    "contract_id",
    [
        "workers_deployed.khm-tha",
        "workers_registered.kor-khm",
        "child_birth_registrations.mys-khm",
        "children_on_the_move.tha-khm",
        "returnees.tha-khm",
    ],
)
def test_clean_synthetic_data_passes(tmp_path: Path, contract_id: str):
    contract = load_contract(contract_id)
    report = validate(write_dataset(contract, tmp_path / "d.parquet", PERIOD, seed=3), contract, form="raw")
    assert report.success, [o.label for o in report.failed]
    assert report.row_count > 0 and report.contract_hash == contract.hash and report.form == "raw"
    if contract.disclosure["method"] == "aggregate":
        assert report.added_columns == ["OBS_STATUS", "CONF_STATUS"]


@pytest.mark.parametrize("contract_id", REPRESENTATIVE)
@pytest.mark.parametrize("violation", sorted(CAUGHT))
def test_every_violation_is_caught(tmp_path: Path, contract_id: str, violation: str):
    contract = load_contract(contract_id)
    report = validate(
        write_dataset(contract, tmp_path / "d.parquet", PERIOD, violations=[violation]), contract, form="raw"
    )
    assert not report.success
    expected = CAUGHT[violation]
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert {o.expectation for o in report.failed} & set(expected), [o.label for o in report.failed]
    row_failures = [o for o in report.failed if o.counts.get("unexpected_count")]
    if violation in ("null_in_required", "unknown_code", "bad_period"):
        assert row_failures and all(o.counts["element_count"] == report.row_count for o in row_failures)
    json.dumps(report.to_dict())


def test_unaccompanied_adult_is_caught(tmp_path: Path):
    contract = load_contract("returnees.tha-khm")
    report = validate(
        write_dataset(contract, tmp_path / "d.parquet", PERIOD, violations=["minor_adult"]), contract, form="raw"
    )
    assert [o.label for o in report.failed] == ["expect_column_values_to_be_in_set(age_band)"]
    assert report.failed[0].counts["unexpected_count"] == 20


@pytest.mark.parametrize("contract_id", ["returnees.tha-khm", "child_birth_registrations.tha-khm"])
def test_no_record_value_leaks_for_restricted_data(tmp_path: Path, contract_id: str):
    contract = load_contract(contract_id)
    assert contract.restricted
    table = generate(contract, PERIOD, rows=200, seed=7, violations=["unknown_code", "duplicate_rows"])
    marker = "LEAK-canary-42"
    name = next(n for n, c in contract.columns.items() if c.codelist and len(c.codelist) > 1)
    index = table.column_names.index(name)
    table = table.set_column(
        index, name, pc.if_else(pc.equal(table.column(name), "XX"), marker, table.column(name))
    )
    pq.write_table(table, tmp_path / "d.parquet")
    report = validate(tmp_path / "d.parquet", contract, form="raw")
    assert not report.success
    text = json.dumps(report.to_dict()) + json.dumps(report.summary())
    assert marker not in text
    if "person_id" in table.column_names:
        assert not any(pid in text for pid in table.column("person_id").to_pylist())
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "d.parquet"), "--contract", contract_id])
    assert result.exit_code == 1 and marker not in result.output


def test_aggregate_reports_show_a_sample(tmp_path: Path):
    contract = load_contract("workers_deployed.khm-tha")
    path = write_dataset(contract, tmp_path / "d.parquet", PERIOD, violations=["unknown_code"])
    failed = {o.label: o for o in validate(path, contract, form="raw").failed}
    assert failed["expect_column_values_to_be_in_set(province)"].unexpected_sample[0] == "XX"


def test_protected_columns_present_validate_too(tmp_path: Path):
    contract = load_contract("children_on_the_move.khm-tha")
    table = generate(contract, PERIOD)
    small = pc.less(table.column("children"), 10)
    table = table.set_column(
        table.column_names.index("children"),
        "children",
        pc.if_else(small, pa.scalar(None, pa.int64()), table.column("children")),
    )
    table = table.append_column("OBS_STATUS", pc.if_else(small, "M", "A"))
    table = table.append_column("CONF_STATUS", pc.if_else(small, "C", "F"))
    pq.write_table(table, tmp_path / "d.parquet")
    for form in ("raw", "exchanged"):
        report = validate(tmp_path / "d.parquet", contract, form=form)
        assert report.success and report.added_columns == [] and report.form == form


@pytest.mark.parametrize("content", [b"", b"PAR1 not really parquet", b"x" * 100])
def test_unreadable_files_are_clear_errors(tmp_path: Path, content: bytes):
    contract = load_contract("returnees.tha-khm")
    (tmp_path / "d.parquet").write_bytes(content)
    with pytest.raises(ContractError, match=r"d.parquet \(dataset returnees, contract returnees.tha-khm\)"):
        validate(tmp_path / "d.parquet", contract)
    result = CliRunner().invoke(
        main, ["validate", str(tmp_path / "d.parquet"), "--contract", "returnees.tha-khm"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_cli_lint_check_validate(tmp_path: Path):
    runner = CliRunner()
    assert runner.invoke(main, ["contract", "lint"]).exit_code == 0
    assert runner.invoke(main, ["contract", "check"]).exit_code == 0
    contract = load_contract("returnees.tha-khm")
    path = write_dataset(contract, tmp_path / "d.parquet", PERIOD)
    result = runner.invoke(
        main, ["validate", str(path), "--contract", contract.id, "--report", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["success"] is True


def _protected(contract_id: str):
    from exchange.disclosure import protect

    contract = load_contract(contract_id)
    table, _ = protect(generate(contract, PERIOD, seed=2), contract.disclosure)
    return contract, table


@pytest.mark.parametrize("status", ["OBS_STATUS", "CONF_STATUS"])
def test_exchanged_form_must_carry_the_columns_protection_adds(tmp_path: Path, status: str):
    contract, table = _protected("children_on_the_move.khm-tha")
    pq.write_table(table.drop_columns([status]), tmp_path / "d.parquet")
    exchanged = validate(tmp_path / "d.parquet", contract)
    assert exchanged.form == "exchanged" and not exchanged.success and exchanged.added_columns == []
    assert {o.label for o in exchanged.failed} == {
        "expect_table_columns_to_match_set",
        f"expect_column_to_exist({status})",
        f"expect_column_values_to_be_in_type_list({status})",
        f"expect_column_values_to_be_in_set({status})",
    }
    raw = validate(tmp_path / "d.parquet", contract, form="raw")
    assert raw.success and raw.added_columns == [status]
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(tmp_path / "d.parquet"), "--contract", contract.id])
    assert result.exit_code == 1 and "exchanged form" in result.output
    assert f"column `{status}` is missing" in result.output
    result = runner.invoke(main, ["validate", str(tmp_path / "d.parquet"), "--contract", contract.id, "--raw"])
    assert result.exit_code == 0 and "raw form" in result.output, result.output


def test_raw_form_still_needs_every_column_protection_does_not_add(tmp_path: Path):
    contract = load_contract("workers_deployed.khm-tha")
    path = write_dataset(contract, tmp_path / "d.parquet", PERIOD, violations=["missing_column"])
    report = validate(path, contract, form="raw")
    assert "expect_table_columns_to_match_set" in {o.label for o in report.failed}


def test_unknown_form_is_refused(tmp_path: Path):
    contract = load_contract("returnees.tha-khm")
    with pytest.raises(ContractError, match="validation form 'protected' is not one of"):
        validate(write_dataset(contract, tmp_path / "d.parquet", PERIOD), contract, form="protected")


# ECMA-262 says no to each of these periods; Python's `$` and `\d` said yes to the first three.
MALFORMED_PERIODS = ["2025-03\n", "\u0662\u0660\u0662\u0665-03", "\uff12\uff10\uff12\uff15-03",
                     "\u0662\u0660\u0662\u0665-\u0660\u0663", " 2025-03", "2025-03 ", "2025-3", "2025-13", "\n2025-03"]


@pytest.mark.parametrize("period", MALFORMED_PERIODS, ids=repr)
def test_periods_are_checked_with_their_ecma_meaning(tmp_path: Path, period: str):
    contract, table = _protected("workers_deployed.khm-tha")
    values = table.column("period").to_pylist()
    values[0] = period
    table = table.set_column(table.column_names.index("period"), "period", pa.array(values, pa.string()))
    pq.write_table(table, tmp_path / "d.parquet")
    report = validate(tmp_path / "d.parquet", contract)
    failed = {o.label: o for o in report.failed}
    assert failed["expect_column_values_to_match_regex(period)"].counts["unexpected_count"] == 1
