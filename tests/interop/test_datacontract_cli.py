"""The contracts stay usable by the ecosystem's reference tool, datacontract-cli, and
`gcmx validate` lets nothing through that it rejects.

It lives in its own virtualenv (`make install` creates .venv-datacontract) because its
dependency pins differ from Airflow's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.model import all_contracts, load_contract
from exchange.devkit.synthetic import generate
from exchange.disclosure import protect

REPO = Path(__file__).resolve().parents[2]
DATACONTRACT = REPO / ".venv-datacontract" / "bin" / "datacontract"


def datacontract(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert DATACONTRACT.exists(), "datacontract-cli missing: run `make install`"
    return subprocess.run([str(DATACONTRACT), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("contract", [c.id for c in all_contracts()])
def test_datacontract_lint_accepts_every_contract(contract):
    result = datacontract("lint", str(REPO / "contracts" / f"{contract}.odcs.yaml"))
    assert result.returncode == 0 and "valid" in result.stdout, result.stdout[-2000:]


def _contract_on(folder: Path, contract_id: str, parquet: str) -> Path:
    contract = load_contract(contract_id)
    text = contract.path.read_text()
    server_path = next(line for line in text.splitlines() if line.strip().startswith("path: ./"))
    target = folder / f"{parquet}.odcs.yaml"
    target.write_text(text.replace(server_path, server_path.split("path:")[0] + f"path: ./{parquet}"))
    return target


CONTRACT = "children_on_the_move.khm-tha"


def _set(table: pa.Table, name: str, values: list) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))


def _period(value: str):
    return lambda table: _set(table, "period", [value] * table.num_rows)


def _last(name: str, value):
    def edit(table: pa.Table) -> pa.Table:
        values = table.column(name).to_pylist()
        values[-1] = value
        return _set(table, name, values)

    return edit


# Malformed variants of a protected (exchanged) file. Every period case sets all rows, so
# only the pattern decides (one period per file holds).
CASES = {
    "clean": lambda table: table,
    "period_trailing_newline": _period("2026-10\n"),
    "period_leading_newline": _period("\n2026-10"),
    "period_arabic_indic_year": _period("\u0662\u0660\u0662\u0666-10"),
    "period_arabic_indic": _period("\u0662\u0660\u0662\u0666-\u0661\u0660"),
    "period_fullwidth_year": _period("\uff12\uff10\uff12\uff16-10"),
    "period_fullwidth": _period("\uff12\uff10\uff12\uff16-\uff11\uff10"),
    "period_leading_space": _period(" 2026-10"),
    "period_trailing_space": _period("2026-10 "),
    "period_month_13": _period("2026-13"),
    "missing_OBS_STATUS": lambda table: table.drop_columns(["OBS_STATUS"]),
    "missing_CONF_STATUS": lambda table: table.drop_columns(["CONF_STATUS"]),
    "missing_required_column": lambda table: table.drop_columns(["sex"]),
    "unknown_code": _last("care_situation", "SOMETHING_ELSE"),
    "code_with_trailing_space": _last("sex", "F "),
    "null_in_required": _last("care_situation", None),
    "negative_count": _last("children", -1),
    "unknown_status": _last("OBS_STATUS", "Z"),
    "empty": lambda table: table.slice(0, 0),
}
# Rules of our suite the contract states only for gcmx (exact column set; one row per cell):
# gcmx rejects these, datacontract-cli need not.
GCMX_STRICTER = {
    "extra_column": lambda table: table.append_column("note", pa.array(["x"] * table.num_rows)),
    "duplicate_cell": lambda table: pa.concat_tables([table, table.slice(0, 1)]),
}
# What `datacontract test` runs (DataContract.test) and its exit rule: exit 1 iff failed or error.
VERDICTS = """
import json, sys
from datacontract.data_contract import DataContract
results = {path: str(DataContract(data_contract_file=path).test().result) for path in sys.argv[1:]}
print(json.dumps({path: result.rsplit(".", 1)[-1] not in ("failed", "error") for path, result in results.items()}))
"""


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[str, tuple[bool, bool]]:
    """case -> (gcmx validate passes, datacontract test passes), on the exchanged form."""
    folder = tmp_path_factory.mktemp("cases")
    contract = load_contract(CONTRACT)
    clean, _ = protect(generate(contract, "2026-10", seed=2), contract.disclosure)
    files, ours = {}, {}
    runner = CliRunner()
    for name, make in {**CASES, **GCMX_STRICTER}.items():
        pq.write_table(make(clean), folder / f"{name}.parquet")
        files[name] = str(_contract_on(folder, contract.id, f"{name}.parquet"))
        result = runner.invoke(main, ["validate", str(folder / f"{name}.parquet"), "--contract", contract.id])
        assert result.exit_code in (0, 1), result.output
        ours[name] = result.exit_code == 0
    python = DATACONTRACT.parent / "python"
    run = subprocess.run([str(python), "-c", VERDICTS, *files.values()], capture_output=True, text=True,
                         cwd=folder, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    return {name: (ours[name], theirs[path]) for name, path in files.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gcmx_and_datacontract_give_the_same_verdict(verdicts, case: str):
    ours, theirs = verdicts[case]
    assert ours == theirs == (case == "clean"), f"gcmx passes: {ours}, datacontract passes: {theirs}"


@pytest.mark.parametrize("case", sorted(GCMX_STRICTER))
def test_gcmx_rejects_what_only_our_suite_states(verdicts, case: str):
    assert verdicts[case][0] is False


def test_datacontract_test_cli_reaches_our_verdict(verdicts, tmp_path):
    """The command itself, on the exchanged form: clean data passes, an unknown code fails."""
    contract = load_contract(CONTRACT)
    clean, _ = protect(generate(contract, "2026-10", seed=2), contract.disclosure)
    pq.write_table(clean, tmp_path / "good.parquet")
    pq.write_table(CASES["unknown_code"](clean), tmp_path / "bad.parquet")
    ok = datacontract("test", str(_contract_on(tmp_path, contract.id, "good.parquet")), cwd=tmp_path)
    assert ok.returncode == 0 and verdicts["clean"] == (True, True), ok.stdout[-3000:]
    failed = datacontract("test", str(_contract_on(tmp_path, contract.id, "bad.parquet")), cwd=tmp_path)
    assert failed.returncode != 0 and "care_situation" in failed.stdout
    assert verdicts["unknown_code"] == (False, False)


def test_datacontract_cli_is_not_in_the_main_environment():
    assert shutil.which("datacontract", path=str(REPO / ".venv" / "bin")) is None
