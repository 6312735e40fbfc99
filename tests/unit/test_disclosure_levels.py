"""The publication rule of docs/disclosure.md: one flag, protectable zeros, protection
levels, hierarchy subtotals as margins, earlier releases, and the contract check."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from exchange.cli import main
from exchange.contract.model import load_contract
from exchange.disclosure import DisclosureRules, audit_table, protect
from exchange.errors import DisclosureError

AGE_TREE = {"Y0T9": ["Y0T4", "Y5T9"], "Y10T17": ["Y10T14", "Y15T17"], "Y0T17": ["Y0T9", "Y10T17"]}
LEAVES = ["Y0T4", "Y5T9", "Y10T14", "Y15T17"]


def rules(lower: int = 3, upper: int = 5, minimum: int = 5, subtotals: bool = False) -> dict:
    out = {"method": "aggregate", "countColumn": "count", "dimensions": ["sex", "age_group"],
           "minimumCellSize": minimum, "protectionLevels": {"lower": lower, "upper": upper}}
    if subtotals:
        out["subtotals"] = {"age_group": AGE_TREE}
    return out


def age_table(base: np.ndarray, period: str = "2025-01", subtotals: bool = True) -> pa.Table:
    """sex (F, M, _T) x age (leaves, the CL_AGE subtotals, _T); ``base`` is 2 x 4."""
    ages = dict(zip(LEAVES, base.T, strict=True))
    ages["Y0T9"] = ages["Y0T4"] + ages["Y5T9"]
    ages["Y10T17"] = ages["Y10T14"] + ages["Y15T17"]
    if subtotals:
        ages["Y0T17"] = ages["Y0T9"] + ages["Y10T17"]
    else:
        ages = {k: ages[k] for k in LEAVES}
    ages["_T"] = sum(ages[k] for k in LEAVES)
    rows = {"period": [], "sex": [], "age_group": [], "count": []}
    for (age, column), (i, sex) in itertools.product(ages.items(), enumerate(["F", "M", "_T"])):
        rows["period"].append(period)
        rows["sex"].append(sex)
        rows["age_group"].append(age)
        rows["count"].append(int(column[i] if i < 2 else column.sum()))
    return pa.table({**rows, "count": pa.array(rows["count"], pa.int64())})


def lp_interval(published: pa.Table, row: int) -> tuple[float, float]:
    """An independent attacker: scipy's LP over the published cells and every margin."""
    from scipy.optimize import linprog

    cells = published.to_pylist()
    hidden = [i for i, r in enumerate(cells) if r["count"] is None]
    where = {(r["sex"], r["age_group"]): i for i, r in enumerate(cells)}
    ages = {r["age_group"] for r in cells}
    relations = [("_T", [a for a in ages if a in LEAVES])]
    relations += [(p, [c for c in kids if c in ages]) for p, kids in AGE_TREE.items() if p in ages]
    equations = []
    for sex in ("F", "M", "_T"):
        for parent, kids in relations:
            equations.append([(where[(sex, parent)], -1)] + [(where[(sex, k)], 1) for k in kids])
    for age in ages:
        equations.append([(where[("_T", age)], -1), (where[("F", age)], 1), (where[("M", age)], 1)])
    a_eq, b_eq = [], []
    for eq in equations:
        row_ = np.zeros(len(hidden))
        rhs = 0.0
        for cell, coef in eq:
            if cell in hidden:
                row_[hidden.index(cell)] += coef
            else:
                rhs -= coef * cells[cell]["count"]
        if row_.any():
            a_eq.append(row_)
            b_eq.append(rhs)
    unit = np.zeros(len(hidden))
    unit[hidden.index(row)] = 1
    lo = linprog(unit, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    hi = linprog(-unit, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return lo.fun, (np.inf if hi.status == 3 else -hi.fun)


def test_partner_sees_one_flag_and_no_primary_secondary_split():
    table = age_table(np.array([[3, 20, 30, 12], [25, 40, 35, 2]]), subtotals=False)
    protected, report = protect(table, rules())
    assert set(protected.column("CONF_STATUS").to_pylist()) == {"F", "C"}
    assert set(protected.column("OBS_STATUS").to_pylist()) == {"A", "M"}
    partner = report.for_partner()
    assert "cellsPrimarySuppressed" not in partner and "tables" not in partner
    assert partner["cellsSuppressed"] == report.to_dict()["cellsSuppressed"] > 0
    assert "minimumSlack" not in partner["audit"] and partner["audit"]["ok"] is True
    local = report.to_dict()  # the sender's own report keeps the split, counts only
    assert local["cellsPrimarySuppressed"] == 2
    (detail,) = local["tables"]
    assert sum(detail["suppressedByDimension"]["sex"].values()) == local["cellsSuppressed"]
    assert detail["minimumSlack"] >= 0


def test_zeros_are_protectable_and_every_primary_meets_both_levels():
    """Zeros may be complements, so "suppressed" does not mean "at least 1"."""
    table = age_table(np.array([[0, 0, 20, 1], [0, 20, 0, 1]]), subtotals=False)
    protected, report = protect(table, rules(lower=2, upper=3))
    hidden = [r for r in protected.to_pylist() if r["count"] is None]
    truth = {(r["sex"], r["age_group"]): r["count"] for r in table.to_pylist()}
    assert any(truth[(r["sex"], r["age_group"])] == 0 for r in hidden)
    verdict = audit_table(protected, rules(lower=2, upper=3), original=table, exact=True)
    assert verdict.ok
    for cell in verdict.cells:
        lo, hi = lp_interval(protected, cell.row)
        assert (lo, hi) == pytest.approx((cell.lo, cell.hi))
        if cell.primary:
            x = table.column("count")[cell.row].as_py()
            assert lo <= x - min(2, x) + 1e-9 and hi >= x + 3 - 1e-9


def test_hierarchy_subtotals_are_margins_for_suppression_and_audit():
    """Y0T4 = Y0T9 - Y5T9 must not recover a suppressed cell."""
    table = age_table(np.array([[3, 20, 30, 12], [25, 40, 35, 22]]))
    with_tree = rules(subtotals=True)
    protected, report = protect(table, with_tree)
    verdict = audit_table(protected, with_tree, original=table, exact=True)
    assert verdict.ok and report.ok
    for cell in verdict.cells:  # an independent LP knowing the hierarchy agrees
        assert lp_interval(protected, cell.row) == pytest.approx((cell.lo, cell.hi))
    # the same table protected as if Y0T9 were an ordinary code is recoverable
    flat, _ = protect(table.filter(pa.compute.is_in(table.column("age_group"),
                                                    pa.array([*LEAVES, "_T"]))), rules())
    assert audit_table(flat, rules(), original=table.filter(pa.compute.is_in(
        table.column("age_group"), pa.array([*LEAVES, "_T"])))).ok


def test_subtotal_that_does_not_add_up_is_refused():
    table = age_table(np.array([[3, 20, 30, 12], [25, 40, 35, 22]]))
    counts = table.column("count").to_pylist()
    for i, r in enumerate(table.to_pylist()):  # the sex margin still adds up
        if r["age_group"] == "Y0T9" and r["sex"] in ("F", "_T"):
            counts[i] += 1
    bad = table.set_column(3, "count", pa.array(counts, pa.int64()))
    with pytest.raises(DisclosureError, match="Y0T9 row of age_group"):
        protect(bad, rules(subtotals=True))


def test_earlier_release_cells_are_known_to_the_partner():
    first = age_table(np.array([[3, 20, 30, 12], [25, 40, 35, 22]]), subtotals=False)
    released, _ = protect(first, rules())
    counts = first.column("count").to_pylist()  # a revision: one big cell changes by 1
    rows = first.to_pylist()
    changed = next(i for i, r in enumerate(rows) if r["sex"] == "M" and r["age_group"] == "Y15T17")
    for i, r in enumerate(rows):
        if r["age_group"] in ("Y15T17", "_T") and r["sex"] in ("M", "_T"):
            counts[i] += 1
    assert rows[changed]["count"] == 22
    revision = first.set_column(3, "count", pa.array(counts, pa.int64()))
    protected, report = protect(revision, rules(), earlier=[released])
    assert report.to_dict()["audit"]["pinnedCells"] > 0
    verdict = audit_table(protected, rules(), original=revision, earlier=[released],
                          exact=True)
    assert verdict.ok
    # an independent LP that also knows the unchanged earlier cells finds the same intervals
    pinned = [i for i, (a, b) in enumerate(zip(released.column("count").to_pylist(), counts,
                                               strict=True)) if a is not None and a == b]
    known = _publish(protected, revision, pinned)
    for cell in verdict.cells:
        if known.column("count")[cell.row].as_py() is None:
            assert lp_interval(known, cell.row) == pytest.approx((cell.lo, cell.hi))


def _publish(protected: pa.Table, truth: pa.Table, rows: list[int]) -> pa.Table:
    counts = protected.column("count").to_pylist()
    for i in rows:
        counts[i] = truth.column("count")[i].as_py()
    return protected.set_column(protected.column_names.index("count"), "count",
                                pa.array(counts, pa.int64()))


def test_legacy_protection_interval_is_rejected_with_the_reason():
    with pytest.raises(DisclosureError) as error:
        DisclosureRules.from_dict({**rules(), "protectionInterval": 5})
    assert "protectionLevels" in error.value.hint and "[1, k-1]" in error.value.hint


@pytest.mark.parametrize("change, expected", [
    (lambda d: d.pop("protectionLevels") and d.update(protectionInterval=5),
     "protectionInterval is no longer supported"),
    (lambda d: d.pop("protectionLevels"), "protectionLevels is missing"),
    (lambda d: d.update(protectionLevels={"lower": 0, "upper": 5}), "protectionLevels.lower"),
    (lambda d: d.update(protectionLevels={"lower": 2.5, "upper": 5}), "whole number"),
])
def test_contract_check_rejects_bad_or_legacy_levels(tmp_path: Path, change, expected):
    source = load_contract("children_on_the_move.khm-tha")
    contracts, suites = tmp_path / "contracts", tmp_path / "expectations"
    contracts.mkdir()
    suites.mkdir()
    document = yaml.safe_load(source.path.read_text())
    for prop in document["customProperties"]:
        if prop["property"] == "disclosure":
            change(prop["value"])
    (contracts / source.path.name).write_text(yaml.safe_dump(document, sort_keys=False))
    (contracts / "codelists.yaml").write_text((source.path.parent / "codelists.yaml").read_text())
    (suites / source.suite_path.name).write_text(source.suite_path.read_text())
    result = CliRunner().invoke(main, ["contract", "check", source.id,
                                       "--contracts-dir", str(contracts)])
    assert result.exit_code == 1, result.output
    assert expected in result.output and "disclosure." in result.output


def test_contract_loader_resolves_code_list_hierarchies_into_subtotals():
    contract = load_contract("workers_deployed.khm-tha")
    subtotals = contract.disclosure["subtotals"]
    assert subtotals["province"]["KH-SW"] == ["KH-7", "KH-9", "KH-18", "KH-23"]
    assert subtotals["age_group"]["Y0T9"] == ["Y0T4", "Y5T9"]
    assert DisclosureRules.from_dict(contract.disclosure).subtotals["age_group"]["Y0T17"] == (
        "Y0T9", "Y10T17")
