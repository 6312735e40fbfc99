"""`gcmx protect` on the synthetic datasets of the agreed contracts."""

from __future__ import annotations

import json
import secrets

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.contracts import all_contracts, load_contract
from exchange.disclosure import audit_table, protect
from exchange.keys import generate_linkage_key
from exchange.synthetic import generate, write_dataset


def _period(contract) -> str:
    return "2025-03" if contract.period == "monthly" else "2025-Q1"


@pytest.mark.parametrize("contract", all_contracts(), ids=lambda c: c.id)
def test_every_contract_protects_its_synthetic_data(contract):
    table = generate(contract, _period(contract), rows=500, seed=3)
    protected, report = protect(table, contract.disclosure, secrets.token_bytes(32))
    summary = report.to_dict()
    assert report.ok and protected.num_rows == table.num_rows
    if contract.disclosure["method"] == "aggregate":
        counts = protected.column(contract.disclosure["countColumn"]).to_pylist()
        assert not [c for c in counts if c is not None
                    and 0 < c < contract.disclosure.get("minimumCellSize", 5)]
        if table.num_rows <= 600:  # the exact attack, again, on the smaller tables
            assert audit_table(protected, contract.disclosure, original=table).ok
    elif contract.disclosure.get("quasiIdentifiers"):
        assert summary["kReached"] >= contract.disclosure["k"]


def test_cli_protects_records_with_the_identity_linkage_key(tmp_path):
    contract = load_contract("returnees.tha-khm")
    raw = write_dataset(contract, tmp_path / "raw.parquet", _period(contract), rows=300)
    generate_linkage_key(contract.sender, contract.recipients[0], tmp_path / "id")
    out, report = tmp_path / "safe.parquet", tmp_path / "report.json"
    result = CliRunner().invoke(main, ["protect", str(raw), "--contract", contract.id,
                                       "--out", str(out), "--report", str(report),
                                       "--identity", str(tmp_path / "id")])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == json.loads(report.read_text())
    assert printed["kReached"] >= contract.disclosure["k"]
    raw_ids = pq.read_table(raw).column(contract.disclosure["pseudonymise"][0]).to_pylist()
    data = out.read_bytes()
    assert not [i for i in raw_ids if str(i).encode() in data]


def test_cli_protects_a_frequency_table_and_explains_a_missing_key(tmp_path):
    contract = load_contract("children_on_the_move.khm-tha")
    raw = write_dataset(contract, tmp_path / "raw.parquet", _period(contract))
    out = tmp_path / "safe.parquet"
    result = CliRunner().invoke(main, ["protect", str(raw), "--contract", contract.id,
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cellsPrimarySuppressed"] >= 0
    assert "CONF_STATUS" in pq.read_table(out).column_names

    records = load_contract("returnees.tha-khm")
    raw = write_dataset(records, tmp_path / "rec.parquet", _period(records), rows=50)
    result = CliRunner().invoke(main, ["protect", str(raw), "--contract", records.id,
                                       "--out", str(out), "--identity", str(tmp_path)])
    assert result.exit_code == 2
    assert "linkage key" in result.output
