"""What `gcmx validate`, publish and `gcmx contract status` say: sentences, not Python data;
the contract a file matches better; contracts not yet signed are reported, not failed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.model import all_contracts, load_contract
from exchange.contract.outcome_words import closest_contract, failure_sentences
from exchange.contract.validation import ExpectationOutcome
from exchange.devkit.synthetic import write_dataset

CONTRACT = "workers_deployed.khm-tha"


def _failed(kind: str, column: str | None = None, count: int | None = None, observed=None,
            error: str | None = None, **parameters) -> ExpectationOutcome:
    counts = {"unexpected_count": count} if count is not None else {}
    return ExpectationOutcome(kind, column, False, counts, observed, None, error, parameters)


def test_each_kind_of_breach_is_a_sentence():
    outcomes = [
        _failed("expect_table_columns_to_match_set", observed=["period", "passport_no"],
                column_set=["period", "workers"], exact_match=True),
        _failed("expect_column_to_exist", "workers"),
        _failed("expect_column_values_to_be_in_type_list", "workers", error="list index out of range"),
        _failed("expect_column_values_to_be_between", "workers", observed=None, min_value=0, max_value=None),
        _failed("expect_column_values_to_be_in_set", "sex", 3, value_set=["F", "M", "_T"]),
        _failed("expect_column_values_to_be_between", "age", 1, min_value=0, max_value=17),
        _failed("expect_column_values_to_not_be_null", "period", 4),
        _failed("expect_column_values_to_be_unique", "person_id", 2),
    ]
    assert failure_sentences(outcomes) == [
        "column `workers` is missing; column `passport_no` is not in the contract",
        "column `sex`: 3 rows hold a value outside the allowed set (F, M, _T)",
        "column `age`: 1 row is outside the allowed range (0 to 17)",
        "column `period`: 4 rows are empty (null), but the contract requires a value",
        "column `person_id`: 2 rows repeat a value that must be unique",
    ]
    empty = [_failed("expect_table_row_count_to_be_between", observed=0, min_value=1), outcomes[6]]
    assert failure_sentences(empty) == ["the file has no rows; the contract wants at least 1"]
    typed = [_failed("expect_column_values_to_be_in_type_list", "age", observed="str",
                     type_list=["BooleanDtype", "bool"]),
             _failed("expect_column_values_to_be_between", "age", 0, min_value=0.0, max_value=None)]
    assert failure_sentences(typed) == ["column `age` is str, not boolean as the contract says"]


REAL_BREACHES = {
    "wrong_type": "column `children` is str, not integer as the contract says",
    "null_in_required": "column `ref_area`: 10 rows are empty (null), but the contract requires a value",
    "unknown_code": "column `care_situation`: 10 rows hold a value outside the allowed set (ACC, UNACC, SEP, LEFT)",
    "out_of_range": "column `children`: 10 rows are outside the allowed range (at least 0)",
    "duplicate_rows": "20 rows repeat a combination that must be unique",
    "empty": "the file has no rows; the contract wants at least 1",
}


@pytest.mark.parametrize("violation", sorted(REAL_BREACHES))
def test_real_breaches_in_words(tmp_path, violation):
    path = write_dataset(load_contract("children_on_the_move.khm-tha"), tmp_path / "d.parquet", "2026-10",
                         violations=[violation])
    result = CliRunner().invoke(main, ["validate", str(path), "--contract", "children_on_the_move.khm-tha", "--raw"])
    assert result.exit_code == 1 and REAL_BREACHES[violation] in result.stdout, result.output
    assert "expect_" not in result.stdout and "observed" not in result.stdout


def test_long_code_lists_are_cut_and_errors_never_show_library_words():
    outcomes = [_failed("expect_column_values_to_be_in_set", "province", 1, value_set=[f"P{i}" for i in range(30)]),
                _failed("expect_column_values_to_match_regex", "id", error="list index out of range")]
    sentences = failure_sentences(outcomes)
    assert sentences[0].endswith("P7, … (30 codes))") and sentences[1] == "column `id` could not be checked by " \
        "expect_column_values_to_match_regex"


def test_the_closest_contract_shares_columns_then_parties():
    contracts = all_contracts()
    given = load_contract("workers_registered.tha-khm")
    columns = list(load_contract(CONTRACT).columns)
    assert closest_contract(columns, given, contracts).id == CONTRACT
    assert closest_contract(columns, load_contract(CONTRACT), contracts) is None


@pytest.fixture(scope="module")
def wrong_columns(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("words")
    source = write_dataset(load_contract(CONTRACT), folder / "in.parquet", "2026-10", rows=50)
    table = pq.read_table(source)
    table = table.drop_columns(["workers"]).append_column("passport_no", pa.array(["x"] * table.num_rows))
    pq.write_table(table, folder / "bad.parquet")
    return folder / "bad.parquet"


def test_validate_says_what_is_missing_and_which_contract_fits_better(wrong_columns):
    result = CliRunner().invoke(main, ["validate", str(wrong_columns), "--contract", "workers_registered.tha-khm"])
    assert result.exit_code == 1, result.output
    assert "column `workers` is missing" in result.stdout and "column `passport_no` is not in the contract" \
        in result.stdout
    assert f"match contract {CONTRACT} better" in result.stdout
    assert "observed" not in result.stdout and "{'" not in result.stdout and "1 rows" not in result.stdout
    as_json = CliRunner().invoke(main, ["validate", str(wrong_columns), "--contract", CONTRACT, "--raw", "--json"])
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert document["ok"] is False and document["better_contract"] is None
    assert document["problems"] == ["column `workers` is missing; column `passport_no` is not in the contract"]


@pytest.fixture
def signed_home(tmp_path) -> dict:
    env = {"GCMX_PARTY": "KHM", "GCMX_HOME": str(tmp_path), "GCMX_IDENTITY": None, "GCMX_KEYRING": None}
    runner = CliRunner()
    for party in ("KHM", "THA"):
        made = runner.invoke(main, ["keys", "generate", "--party", party, "--out", str(tmp_path / "keyring")],
                             env=env)
        assert made.exit_code == 0, made.output
        signed = runner.invoke(main, ["contract", "sign", CONTRACT, "--party", party, "--key",
                                      str(tmp_path / "keyring" / f"{party}.minisign.key")], env=env)
        assert signed.exit_code == 0, signed.output
    return env


def test_contract_status_reports_contracts_not_in_force_without_failing(signed_home):
    result = CliRunner().invoke(main, ["contract", "status"], env=signed_home)
    assert result.exit_code == 0, result.output
    assert f"in force          {CONTRACT} v1.0.0" in result.stdout
    assert "not in force      workers_deployed.khm-mys" in result.stdout
    document = json.loads(CliRunner().invoke(main, ["contract", "status", "--json"], env=signed_home).stdout)
    states = {row["contract"]: row["state"] for row in document["contracts"]}
    assert document["ok"] and states[CONTRACT] == "in force" and states["workers_deployed.khm-kor"] == "not in force"


def test_contract_status_fails_for_a_signature_that_does_not_verify(signed_home):
    agreements = Path(signed_home["GCMX_HOME"]) / "agreements"
    khm, tha = (agreements / f"{CONTRACT}@1.0.0.{p}.minisig" for p in ("KHM", "THA"))
    khm.write_bytes(tha.read_bytes())  # THA's signature under KHM's name
    result = CliRunner().invoke(main, ["contract", "status", CONTRACT], env=signed_home)
    assert result.exit_code == 1, result.output
    assert f"signature invalid {CONTRACT}" in result.stdout and "does not verify" in result.stdout


def test_a_publish_breach_names_the_contract_the_file_fits_better(wrong_columns):
    from exchange.cli.exchange import _failed_check_hint
    from exchange.protocol.outbound import ContractBreach

    breach = ContractBreach("dataset workers_registered breaks contract workers_registered.tha-khm: ...",
                            hint="nothing was sent")
    hinted = _failed_check_hint(breach, wrong_columns, "workers_registered.tha-khm")
    assert hinted.hint == f"nothing was sent; the file's columns match contract {CONTRACT} better"
