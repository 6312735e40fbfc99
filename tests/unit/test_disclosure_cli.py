"""`gcmx protect` on the synthetic datasets of the agreed contracts."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.model import all_contracts, load_contract
from exchange.crypto.keys import generate_linkage_key, load_linkage_key
from exchange.devkit.synthetic import generate, write_dataset
from exchange.disclosure import audit_table, protect, pseudonymise
from exchange.errors import ConfigError
from exchange.protocol.protection import pseudonym_key, pseudonym_key_path, sender_pseudonym_key


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


def test_cli_protects_records_with_the_senders_own_key(tmp_path):
    contract = load_contract("returnees.tha-khm")
    raw = write_dataset(contract, tmp_path / "raw.parquet", _period(contract), rows=300)
    generate_linkage_key(contract.sender, contract.recipients[0], tmp_path / "id")
    out, report = tmp_path / "safe.parquet", tmp_path / "report.json"
    result = CliRunner().invoke(main, ["protect", str(raw), "--contract", contract.id,
                                       "--out", str(out), "--report", str(report),
                                       "--identity", str(tmp_path / "id"), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads(report.read_text())
    assert printed["kReached"] >= contract.disclosure["k"]
    assert printed["privacy"]["lReached"] >= 2 and printed["privacy"]["timeColumns"] == ["period"]
    raw_ids = pq.read_table(raw).column(contract.disclosure["pseudonymise"][0]).to_pylist()
    data = out.read_bytes()
    assert not [i for i in raw_ids if str(i).encode() in data]
    # linkage: none -> the sender's own key (made on first use, 0600), not the bilateral one
    own = pseudonym_key_path(contract.sender, tmp_path / "id")
    assert own.is_file() and own.stat().st_mode & 0o077 == 0
    published = set(pq.read_table(out).column("person_id").to_pylist())
    bilateral = load_linkage_key(contract.sender, contract.recipients[0], tmp_path / "id")
    for scope in ("person_id", f"{contract.id}/person_id", f"{contract.id}/2025-03/person_id"):
        assert not published & set(pseudonymise(pa.array(raw_ids), bilateral, scope).to_pylist())
    mine = pseudonymise(pa.array(raw_ids), sender_pseudonym_key(contract.sender, tmp_path / "id"),
                        f"{contract.id}/2025-03/person_id")
    assert published == set(mine.to_pylist())


def test_cli_protects_a_frequency_table(tmp_path):
    contract = load_contract("children_on_the_move.khm-tha")
    raw = write_dataset(contract, tmp_path / "raw.parquet", _period(contract))
    out = tmp_path / "safe.parquet"
    result = CliRunner().invoke(main, ["protect", str(raw), "--contract", contract.id,
                                       "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cellsPrimarySuppressed"] >= 0
    text = CliRunner().invoke(main, ["protect", str(raw), "--contract", contract.id, "--out", str(out)])
    assert text.exit_code == 0 and text.stdout.startswith(f"protected {raw}"), text.output
    assert "CONF_STATUS" in pq.read_table(out).column_names


def test_linkage_with_the_recipient_needs_the_bilateral_key(tmp_path):
    contract = load_contract("returnees.tha-khm")
    shared = replace(contract, disclosure={**contract.disclosure, "linkage": "withRecipient"})
    with pytest.raises(ConfigError, match="linkage key"):
        pseudonym_key(shared, tmp_path)
    generate_linkage_key(contract.sender, contract.recipients[0], tmp_path)
    assert pseudonym_key(shared, tmp_path) == load_linkage_key(
        contract.sender, contract.recipients[0], tmp_path)
    assert pseudonym_key(contract, tmp_path) == sender_pseudonym_key(contract.sender, tmp_path)


def test_keys_pseudonym_makes_the_key_once(tmp_path):
    args = ["keys", "pseudonym", "--party", "THA", "--dir", str(tmp_path)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert pseudonym_key_path("THA", tmp_path).is_file()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "already exists" in again.output
