"""The contracts stay usable by the ecosystem's reference tool, datacontract-cli.

It lives in its own virtualenv (`make install` creates .venv-datacontract) because its
dependency pins differ from Airflow's.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.contracts import all_contracts, load_contract
from exchange.disclosure import protect
from exchange.synthetic import generate

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


def test_datacontract_test_reaches_our_verdict(tmp_path):
    """On the exchanged (protected) form: clean data passes, an unknown code fails."""
    contract = load_contract("children_on_the_move.khm-tha")
    good, _ = protect(generate(contract, "2026-10", seed=2), contract.disclosure)
    pq.write_table(good, tmp_path / "good.parquet")
    values = good.column("care_situation").to_pylist()
    values[-1] = "SOMETHING_ELSE"
    index = good.column_names.index("care_situation")
    bad = good.set_column(index, good.schema.field(index), pa.array(values, good.schema.field(index).type))
    pq.write_table(bad, tmp_path / "bad.parquet")
    ok = datacontract("test", str(_contract_on(tmp_path, contract.id, "good.parquet")), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout[-3000:]
    failed = datacontract("test", str(_contract_on(tmp_path, contract.id, "bad.parquet")), cwd=tmp_path)
    assert failed.returncode != 0 and "care_situation" in failed.stdout


def test_datacontract_cli_is_not_in_the_main_environment():
    assert shutil.which("datacontract", path=str(REPO / ".venv" / "bin")) is None
