"""What an exchange declares (period, reporting and counterpart areas) is what its rows say."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from exchange.contract.model import all_contracts, load_contract
from exchange.devkit.synthetic import generate
from exchange.errors import ContractError
from exchange.protocol.declared import DeclarationMismatch, check_declared, declared_values, mismatches

CONTRACT = "workers_deployed.khm-tha"


def write(table: pa.Table, tmp_path, name: str = "data.parquet"):
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def replaced(table: pa.Table, column: str, values) -> pa.Table:
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    return table.set_column(table.column_names.index(column), column, array)


@pytest.mark.parametrize("contract", all_contracts(), ids=lambda c: c.id)
def test_every_contract_declares_its_sender_as_ref_area_and_recipient_as_counterpart(contract, tmp_path):
    expected = declared_values(contract, "2026-10")
    assert expected["period"] == "2026-10"
    for column, party in (("ref_area", contract.sender), ("counterpart_area", contract.recipients[0])):
        if column in contract.columns:
            assert contract.columns[column].codelist == (party,), "the contract pins the area to the party"
            assert expected[column] == party
    rows = generate(contract, "2026-10", rows=200, seed=4)
    assert mismatches(write(rows, tmp_path), contract, "2026-10") == []


def test_rows_of_another_period_are_a_breach_with_counts_and_the_period_they_say(tmp_path):
    contract = load_contract(CONTRACT)
    table = generate(contract, "2026-10", seed=1)
    with pytest.raises(DeclarationMismatch) as err:
        check_declared(write(table, tmp_path), contract, "2026-09")
    message = err.value.message
    assert f"{table.num_rows} of {table.num_rows} rows have period other than the declared 2026-09" in message
    assert "they say 2026-10" in message and isinstance(err.value, ContractError)


def test_a_few_rows_of_another_period_are_found(tmp_path):
    contract = load_contract(CONTRACT)
    good = generate(contract, "2026-09", seed=1)
    stray = generate(contract, "2026-10", seed=2).slice(0, 3)
    problems = mismatches(write(pa.concat_tables([good, stray]), tmp_path), contract, "2026-09")
    assert problems == [f"3 of {good.num_rows + 3} rows have period other than the declared 2026-09 "
                        "(they say 2026-10)"]


def test_swapped_areas_are_found_in_both_columns(tmp_path):
    contract = load_contract(CONTRACT)
    table = generate(contract, "2026-10", seed=1)
    swapped = replaced(replaced(table, "ref_area", table.column("counterpart_area")),
                       "counterpart_area", table.column("ref_area"))
    problems = mismatches(write(swapped, tmp_path), contract, "2026-10")
    assert len(problems) == 2
    assert "ref_area other than the declared KHM (they say THA)" in problems[0]
    assert "counterpart_area other than the declared THA (they say KHM)" in problems[1]


def test_values_that_are_not_codes_are_counted_but_never_shown(tmp_path):
    contract = load_contract(CONTRACT)
    table = generate(contract, "2026-10", seed=1)
    n = table.num_rows
    odd = replaced(table, "period", pa.array(["Somchai 2026-10"] + [None] * (n - 1), pa.string()))
    problems = mismatches(write(odd, tmp_path), contract, "2026-10")
    assert problems == [f"{n} of {n} rows have period other than the declared 2026-10"]


def test_dictionary_large_string_and_wrong_types(tmp_path):
    contract = load_contract(CONTRACT)
    table = generate(contract, "2026-10", seed=1)
    encoded = replaced(table, "period", pc.dictionary_encode(table.column("period")))
    encoded = replaced(encoded, "ref_area", table.column("ref_area").cast(pa.large_string()))
    assert mismatches(write(encoded, tmp_path, "a.parquet"), contract, "2026-10") == []
    as_number = replaced(table, "period", pa.array([202610] * table.num_rows))
    assert "period other than the declared 2026-10" in mismatches(write(as_number, tmp_path, "b.parquet"),
                                                                   contract, "2026-10")[0]
    as_struct = replaced(table, "period", pa.array([{"y": 2026}] * table.num_rows))
    assert "period other than" in mismatches(write(as_struct, tmp_path, "c.parquet"), contract, "2026-10")[0]


def test_missing_columns_and_empty_files_are_left_to_validation(tmp_path):
    contract = load_contract(CONTRACT)
    table = generate(contract, "2026-10", seed=1)
    assert mismatches(write(table.drop_columns(["period", "ref_area"]), tmp_path, "a.parquet"),
                      contract, "2026-09") == []
    assert mismatches(write(table.slice(0, 0), tmp_path, "b.parquet"), contract, "2026-09") == []


def test_a_file_that_is_not_parquet_is_a_contract_error_not_a_mismatch(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(ContractError) as err:
        check_declared(path, load_contract(CONTRACT), "2026-10")
    assert not isinstance(err.value, DeclarationMismatch) and "x.parquet" in err.value.message


def ambiguous(contract):
    """The contract with area code lists that leave out the parties their roles imply."""
    columns = dict(contract.columns)
    for name in ("ref_area", "counterpart_area"):
        columns[name] = dataclasses.replace(columns[name], codelist=("MYS",))
    return dataclasses.replace(contract, columns=columns)


def test_an_ambiguous_contract_still_needs_one_party_per_column_and_two_distinct_parties(tmp_path):
    contract = ambiguous(load_contract(CONTRACT))
    assert declared_values(contract, "2026-10") == {"period": "2026-10", "ref_area": None,
                                                   "counterpart_area": None}
    table = generate(load_contract(CONTRACT), "2026-10", seed=1)
    assert mismatches(write(table, tmp_path, "ok.parquet"), contract, "2026-10") == []
    same = replaced(table, "counterpart_area", table.column("ref_area"))
    assert mismatches(write(same, tmp_path, "same.parquet"), contract, "2026-10") == [
        "ref_area and counterpart_area both name KHM"]
    n = table.num_rows
    mixed = replaced(table, "ref_area", ["KHM"] * (n - 1) + ["MYS"])
    problems = mismatches(write(mixed, tmp_path, "mixed.parquet"), contract, "2026-10")
    assert len(problems) == 1 and "ref_area must name one party of the contract (KHM, THA)" in problems[0]
    assert "2 distinct values including KHM" in problems[0]
