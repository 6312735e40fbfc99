"""Synthetic data: seeded, realistic shape, margins that add up, small cells."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from exchange.contract.model import load_contract
from exchange.devkit.synthetic import generate


def test_seeded_and_deterministic():
    contract = load_contract("returnees.tha-khm")
    assert generate(contract, "2025-01", rows=300, seed=5).equals(
        generate(contract, "2025-01", rows=300, seed=5)
    )
    assert not generate(contract, "2025-01", rows=300, seed=5).equals(
        generate(contract, "2025-01", rows=300, seed=6)
    )


def test_records_shape():
    contract = load_contract("returnees.tha-khm")
    table = generate(contract, "2025-01", rows=2000, seed=1)
    assert table.num_rows == 2000 and table.column_names == list(contract.columns)
    assert pc.count_distinct(table.column("person_id")).as_py() == 2000
    minors = table.filter(table.column("unaccompanied_minor"))
    assert 0 < minors.num_rows and set(minors.column("age_band").to_pylist()) <= {
        "Y0T4",
        "Y5T9",
        "Y10T14",
        "Y15T17",
    }


def test_aggregate_margins_add_up_and_small_cells_exist():
    contract = load_contract("children_on_the_move.khm-tha")
    table = generate(contract, "2025-01", seed=2).to_pandas()
    assert "OBS_STATUS" not in table
    dims = contract.disclosure["dimensions"]
    base = table[(table["sex"] != "_T") & (table["age_group"] != "_T")]
    grand = table[(table["sex"] == "_T") & (table["age_group"] == "_T")]
    assert grand["children"].sum() == base["children"].sum()
    by_sex = table[(table["sex"] != "_T") & (table["age_group"] == "_T")].groupby("sex")["children"].sum()
    assert by_sex.to_dict() == base.groupby("sex")["children"].sum().to_dict()
    assert ((base["children"] > 0) & (base["children"] < contract.disclosure["minimumCellSize"])).sum() > 10
    assert not table.duplicated(subset=["period", *dims]).any()


def test_unknown_violation_is_rejected():
    with pytest.raises(ValueError, match="unknown violation"):
        generate(load_contract("returnees.tha-khm"), "2025-01", violations=["nonsense"])
