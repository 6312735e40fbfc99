"""Only the contract leaves: each bad input is refused by name, and `gcmx protect` then
writes nothing (no output, no report) and ends with one clear line, exit code 2."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.model import load_contract
from exchange.devkit.synthetic import generate
from exchange.disclosure.scope import check_publishable
from exchange.errors import DisclosureError

RECORDS, AGGREGATE = "returnees.tha-khm", "children_on_the_move.khm-tha"


def _data(contract_id: str, rows: int = 300) -> tuple:
    contract = load_contract(contract_id)
    return contract, generate(contract, "2025-03", rows=rows, seed=3)


def _replace(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, pa.array(values))


def _first_as(table: pa.Table, name: str, value) -> pa.Table:
    values = table.column(name).to_pylist()
    return _replace(table, name, [value, *values[1:]])


def _bad_inputs():
    contract, records = _data(RECORDS)
    agg_contract, aggregate = _data(AGGREGATE)
    n, m = records.num_rows, aggregate.num_rows
    ids = records.column("person_id").to_pylist()
    return {
        "full_name": (contract, records.append_column("full_name", pa.array(["x"] * n)),
                      "column full_name is not in the contract"),
        "passport_no": (contract, records.append_column("passport_no", pa.array(["N1"] * n)),
                        "column passport_no is not in the contract"),
        "constant_text_on_aggregate": (
            agg_contract, aggregate.append_column("office", pa.array(["BKK"] * m)),
            "column office is not in the contract"),
        "code_XX": (contract, _first_as(records, "sex", "XX"), "column sex holds code.*'XX'"),
        "age_subtotal": (agg_contract, _first_as(aggregate, "age_group", "Y0T9"),
                         "column age_group holds code.*'Y0T9'.*CL_AGE"),
        "zero_rows_records": (contract, records.slice(0, 0), "has no rows"),
        "zero_rows_aggregate": (agg_contract, aggregate.slice(0, 0), "has no rows"),
        "null_id": (contract, _first_as(records, "person_id", None),
                    "person_id has 1 null value.*required"),
        "duplicate_id": (contract, _replace(records, "person_id", [ids[1], *ids[1:]]),
                         "person_id has 1 duplicate value.*unique"),
        "missing_column": (contract, records.drop_columns(["return_reason"]),
                           "column return_reason required by the contract is missing"),
    }


BAD = _bad_inputs()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_column_code_and_fix(case):
    contract, table, message = BAD[case]
    with pytest.raises(DisclosureError, match=message) as caught:
        check_publishable(table, contract)
    assert caught.value.hint


def test_good_inputs_pass():
    for contract_id in (RECORDS, AGGREGATE):
        contract, table = _data(contract_id)
        check_publishable(table, contract)


def test_no_record_value_in_the_messages():
    contract, table, _ = BAD["duplicate_id"]
    with pytest.raises(DisclosureError) as caught:
        check_publishable(table, contract)
    for raw in table.column("person_id").to_pylist()[:5]:
        assert raw not in str(caught.value) and raw not in (caught.value.hint or "")


def _cli(tmp_path, source, contract_id, *extra):
    out, report = tmp_path / "out" / "safe.parquet", tmp_path / "out" / "report.json"
    result = CliRunner().invoke(main, ["protect", str(source), "--contract", contract_id,
                                       "--out", str(out), "--report", str(report),
                                       "--identity", str(tmp_path / "id"), *extra])
    return result, out, report


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_writes_nothing_for_a_bad_input(tmp_path, case):
    contract, table, message = BAD[case]
    source = tmp_path / "raw.parquet"
    pq.write_table(table, source)
    result, out, report = _cli(tmp_path, source, contract.id)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "gcmx: error:" in result.output
    assert not (tmp_path / "out").exists()  # not even the output folder


def test_cli_refuses_a_file_that_is_not_parquet(tmp_path):
    source = tmp_path / "raw.parquet"
    source.write_text("period,person_id\n2025-03,KH1\n")
    result, out, report = _cli(tmp_path, source, RECORDS)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "not a readable Parquet file" in result.output
    assert not out.exists() and not report.exists()


@pytest.mark.parametrize("which", ["--out", "--report"])
def test_cli_refuses_an_unwritable_path(tmp_path, which):
    _, table = _data(RECORDS)
    source = tmp_path / "raw.parquet"
    pq.write_table(table, source)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out, report = tmp_path / "safe.parquet", tmp_path / "report.json"
    paths = {"--out": out, "--report": report, which: blocker / "x"}
    result = CliRunner().invoke(main, ["protect", str(source), "--contract", RECORDS,
                                       "--out", str(paths["--out"]),
                                       "--report", str(paths["--report"]),
                                       "--identity", str(tmp_path / "id")])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "cannot write the" in result.output
    assert not out.exists() and not report.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no scratch left


def test_cli_refuses_a_rejected_release_without_output(tmp_path):
    contract, table = _data(RECORDS, rows=3)  # fewer records than k
    table = _replace(table, "person_id", [f"U{i}" for i in range(table.num_rows)])
    source = tmp_path / "raw.parquet"
    pq.write_table(table, source)
    result, out, report = _cli(tmp_path, source, RECORDS)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "fewer than disclosure.k" in result.output
    assert not out.exists() and not report.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
