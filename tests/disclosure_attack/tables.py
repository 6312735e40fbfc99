"""Frequency tables with their margins, as spec rule 1 says protect receives them.

A table is built from its leaf counts: every combination of every dimension's codes
(leaves, the subtotal parents given, and ``_T``) is a row whose count is the sum of the
leaf cells it covers, so margins add up exactly and the cube is complete. Codes are
real code-list codes (CL_SEX, CL_AGE, CL_CARE_SITUATION, ...); the CL_AGE subtotals
are the ones the spec names. Random shapes use numpy with fixed seeds.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from tests.disclosure_attack.attacker import Key, TableRules, read_cells

TOTAL = "_T"
COUNT = "children"
SEX = ["F", "M", "_U"]
CARE = ["ACC", "UNACC", "SEP", "LEFT"]
DOC = ["DOC", "IRR", "PEN", "_U"]
SCHOOL = ["ENR", "NENR", "_U"]
AGE_LEAVES = ["Y0T4", "Y5T9", "Y10T14", "Y15T17"]
AGE_SUBTOTALS = {"Y0T9": ["Y0T4", "Y5T9"], "Y10T17": ["Y10T14", "Y15T17"],
                 "Y0T17": ["Y0T9", "Y10T17"]}
DIMENSION_CODES = {"sex": SEX, "care_situation": CARE, "documentation_status": DOC,
                   "school_enrolment": SCHOOL, "age_group": AGE_LEAVES}


def aggregate_rules(dimensions: Sequence[str], *, k: int = 5, lower: int = 2, upper: int = 3,
                    subtotals: Mapping[str, Mapping[str, list[str]]] | None = None) -> dict:
    """The rules mapping of the spec, as a contract's disclosure block gives it to protect."""
    rules = {"method": "aggregate", "countColumn": COUNT, "dimensions": list(dimensions),
             "totalCode": TOTAL, "minimumCellSize": k,
             "protectionLevels": {"lower": lower, "upper": upper}}
    if subtotals:
        rules["subtotals"] = {d: {p: list(c) for p, c in tree.items()} for d, tree in subtotals.items()}
    return rules


def _covers(code: str, leaves: list[str], tree: Mapping[str, list[str]]) -> set[str]:
    if code == TOTAL:
        return set(leaves)
    if code in tree:
        return set().union(*(_covers(child, leaves, tree) for child in tree[code]))
    return {code}


def cross_table(leaves: Mapping[str, list[str]], counts: np.ndarray, *,
                subtotals: Mapping[str, Mapping[str, list[str]]] | None = None,
                totals: Iterable[str] | None = None, keys: Mapping[str, str] | None = None) -> pa.Table:
    """Every combination of leaves, parents and ``_T`` with its summed count.

    ``totals`` names the dimensions that get a ``_T`` code (default: all); ``keys`` adds
    constant columns (period, ref_area) that split tables into cubes.
    """
    subtotals = subtotals or {}
    totals = set(leaves if totals is None else totals)
    dims = list(leaves)
    assert counts.shape == tuple(len(leaves[d]) for d in dims)
    codes, matrices = [], []
    for d in dims:
        tree = subtotals.get(d, {})
        axis_codes = list(leaves[d]) + list(tree) + ([TOTAL] if d in totals else [])
        cover = np.array([[leaf in _covers(c, leaves[d], tree) for leaf in leaves[d]]
                          for c in axis_codes], dtype=np.int64)
        codes.append(axis_codes)
        matrices.append(cover)
    full = counts.astype(np.int64)
    for axis, cover in enumerate(matrices):
        full = np.moveaxis(np.tensordot(cover, full, axes=([1], [axis])), 0, axis)
    columns: dict[str, list] = {name: [] for name in (keys or {})}
    columns.update({d: [] for d in dims})
    columns[COUNT] = []
    for index in itertools.product(*(range(len(c)) for c in codes)):
        for name, value in (keys or {}).items():
            columns[name].append(value)
        for d, i, axis_codes in zip(dims, index, codes, strict=True):
            columns[d].append(axis_codes[i])
        columns[COUNT].append(int(full[index]))
    columns[COUNT] = pa.array(columns[COUNT], pa.int64())
    return pa.table(columns)


def publish(truth: pa.Table, rules: Mapping, suppressed: Iterable[Key],
            flags: Mapping[Key, str] | None = None) -> pa.Table:
    """A publication built by hand: the given cells suppressed (null, M, C or ``flags``)."""
    parsed = TableRules.of(rules)
    hidden = set(suppressed)
    keys = list(read_cells(truth, parsed))
    unknown = hidden - set(keys)
    assert not unknown, f"no such cells: {unknown}"
    counts = [None if key in hidden else v
              for key, v in zip(keys, truth.column(parsed.count).to_pylist(), strict=True)]
    conf = [(flags or {}).get(key, "C") if key in hidden else "F" for key in keys]
    out = truth.set_column(truth.column_names.index(parsed.count), parsed.count,
                           pa.array(counts, pa.int64()))
    out = out.append_column("OBS_STATUS", pa.array(["M" if k in hidden else "A" for k in keys]))
    return out.append_column("CONF_STATUS", pa.array(conf))


def key(*codes: str, group: tuple = ()) -> Key:
    """A cell's key: its cube-splitting values and its dimension codes."""
    return (tuple(group), tuple(codes))


def revise(table: pa.Table, leaves: Mapping[str, list[str]], counts: np.ndarray,
           changes: Mapping[tuple[int, ...], int], **kwargs) -> tuple[np.ndarray, pa.Table]:
    """The same table with some leaf cells changed (a revision), margins recomputed."""
    revised = counts.copy()
    for index, value in changes.items():
        revised[index] = value
    return revised, cross_table(leaves, revised, **kwargs)


# --- generated shapes ---------------------------------------------------------------

Shape = Callable[[int], tuple[pa.Table, dict]]


def _leaves(*dims: str) -> dict[str, list[str]]:
    return {d: DIMENSION_CODES[d] for d in dims}


def two_dim(seed: int) -> tuple[pa.Table, dict]:
    """sex x documentation_status, skewed Poisson counts."""
    rng = np.random.default_rng(seed)
    leaves = _leaves("sex", "documentation_status")
    counts = rng.poisson(rng.gamma(1.5, 6.0, size=(3, 4)))
    return cross_table(leaves, counts), aggregate_rules(list(leaves))


def three_dim(seed: int) -> tuple[pa.Table, dict]:
    """care_situation x age_group (leaves only) x sex, many small cells."""
    rng = np.random.default_rng(seed)
    leaves = {"care_situation": CARE, "age_group": AGE_LEAVES, "sex": SEX[:2]}
    counts = rng.poisson(rng.gamma(1.0, 5.0, size=(4, 4, 2)))
    return cross_table(leaves, counts), aggregate_rules(list(leaves), k=5, lower=2, upper=2)


def sparse(seed: int) -> tuple[pa.Table, dict]:
    """A 3-D table that is mostly empty, with a few large and a few small cells."""
    rng = np.random.default_rng(seed)
    leaves = _leaves("care_situation", "school_enrolment", "sex")
    sizes = np.where(rng.random((4, 3, 3)) < 0.5, rng.integers(1, 5, (4, 3, 3)),
                     rng.integers(5, 30, (4, 3, 3)))
    counts = np.where(rng.random((4, 3, 3)) < 0.25, sizes, 0)
    return cross_table(leaves, counts), aggregate_rules(list(leaves), k=5, lower=2, upper=3)


def zero_heavy(seed: int) -> tuple[pa.Table, dict]:
    """A 2-D table whose cells are 70 % zero: complements often have to be zeros."""
    rng = np.random.default_rng(seed)
    leaves = _leaves("care_situation", "documentation_status")
    counts = np.where(rng.random((4, 4)) < 0.7, 0, rng.integers(1, 25, (4, 4)))
    return cross_table(leaves, counts), aggregate_rules(list(leaves), k=5, lower=3, upper=3)


def with_hierarchy(seed: int) -> tuple[pa.Table, dict]:
    """age_group with the CL_AGE subtotals (Y0T9, Y10T17, Y0T17) x sex x care_situation."""
    rng = np.random.default_rng(seed)
    leaves = {"age_group": AGE_LEAVES, "sex": SEX[:2], "care_situation": CARE[:3]}
    subtotals = {"age_group": AGE_SUBTOTALS}
    counts = rng.poisson(rng.gamma(1.2, 5.0, size=(4, 2, 3)))
    return (cross_table(leaves, counts, subtotals=subtotals),
            aggregate_rules(list(leaves), k=5, lower=2, upper=3, subtotals=subtotals))


def multi_period(seed: int) -> tuple[pa.Table, dict]:
    """Three monthly cubes of sex x care_situation, split by period (and a constant ref_area)."""
    rng = np.random.default_rng(seed)
    leaves = _leaves("sex", "care_situation")
    blocks = [cross_table(leaves, rng.poisson(rng.gamma(1.3, 5.0, size=(3, 4))),
                          keys={"period": f"2025-0{m}", "ref_area": "KHM"}) for m in (1, 2, 3)]
    return pa.concat_tables(blocks), aggregate_rules(list(leaves), k=5, lower=2, upper=3)


def strict_levels(seed: int) -> tuple[pa.Table, dict]:
    """children_on_the_move-like parameters: k = 10 and protection levels of 5."""
    rng = np.random.default_rng(seed)
    leaves = _leaves("care_situation", "sex", "school_enrolment")
    counts = rng.poisson(rng.gamma(1.5, 8.0, size=(4, 3, 3)))
    return cross_table(leaves, counts), aggregate_rules(list(leaves), k=10, lower=5, upper=5)


SHAPES: dict[str, Shape] = {"two_dim": two_dim, "three_dim": three_dim, "sparse": sparse,
                            "zero_heavy": zero_heavy, "with_hierarchy": with_hierarchy,
                            "multi_period": multi_period, "strict_levels": strict_levels}
