"""Seeded synthetic data for every contract, with switches that inject each violation.

Aggregates come out as full cross tables of the contract's dimensions with margin rows
(``_T``) over every dimension whose code list has a total, and Poisson counts from
skewed marginal distributions, so many cells are small and disclosure control has
work to do. Record-level contracts get ``rows`` records with realistic skews. The raw
output has no OBS_STATUS / CONF_STATUS: disclosure control adds them.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import combinations
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exchange.contract.model import Contract, parse_period

VIOLATIONS = {
    "missing_column": "a required column is dropped",
    "extra_column": "a column the contract does not know is added",
    "wrong_type": "a numeric or boolean column is written as strings",
    "null_in_required": "nulls in a non-nullable column",
    "unknown_code": "codes outside the code list",
    "out_of_range": "negative counts (aggregates) / impossible period month",
    "bad_period": "period strings that do not match YYYY-MM",
    "duplicate_rows": "rows repeated (duplicate cells or person ids)",
    "minor_adult": "an unaccompanied minor with an adult age band (records)",
    "empty": "no rows at all",
}
TOTALS = {
    "workers_deployed": 9000,
    "workers_registered": 250000,
    "child_birth_registrations": 450,
    "children_on_the_move": 2500,
}
KNOWN_WEIGHTS = {
    "F": 0.42,
    "M": 0.58,
    "_U": 0.01,
    "Y0T4": 0.04,
    "Y5T9": 0.03,
    "Y10T14": 0.03,
    "Y15T17": 0.04,
    "Y18T24": 0.24,
    "Y25T34": 0.34,
    "Y35T44": 0.18,
    "Y45T54": 0.07,
    "Y55T64": 0.02,
    "Y_GE65": 0.01,
}
STATUS_COLUMNS = ("OBS_STATUS", "CONF_STATUS")


def _weights(codes: list[str], rng: np.random.Generator) -> np.ndarray:
    """Known SDMX weights where defined, else a seeded Zipf-like skew; _U stays rare."""
    if all(c in KNOWN_WEIGHTS for c in codes):
        weights = np.array([KNOWN_WEIGHTS[c] for c in codes])
    else:
        ranks = rng.permutation(len(codes)) + 1
        weights = 1.0 / ranks**1.1
        weights[[i for i, c in enumerate(codes) if c == "_U"]] = 0.02 * weights.sum()
    return weights / weights.sum()


def _base_codes(contract: Contract, name: str) -> list[str]:
    """Codes raw data uses: the code list minus totals and generalised codes."""
    codes = list(contract.columns[name].codelist or ())
    total = contract.disclosure.get("totalCode", "_T")
    levels = (contract.disclosure.get("hierarchies") or {}).get(name) or []
    generalised = {code for level in levels for code in level.values()}
    return [c for c in codes if c != total and c not in generalised]


def _constant(contract: Contract, name: str, period: str) -> str:
    if name == "period":
        return period
    return (contract.columns[name].codelist or ("",))[0]


def _aggregate(contract: Contract, period: str, rng: np.random.Generator) -> pa.Table:
    import pandas as pd

    dims = list(contract.disclosure["dimensions"])
    count = contract.disclosure["countColumn"]
    total_code = contract.disclosure.get("totalCode", "_T")
    codes = {d: _base_codes(contract, d) for d in dims}
    grids = np.meshgrid(*[np.arange(len(codes[d])) for d in dims], indexing="ij")
    expected = np.full(grids[0].shape, float(TOTALS.get(contract.dataset, 5000)))
    for d, grid in zip(dims, grids, strict=True):
        expected = expected * _weights(codes[d], rng)[grid]
    base = pd.DataFrame(
        {d: np.asarray(codes[d], dtype=object)[g.ravel()] for d, g in zip(dims, grids, strict=True)}
    )
    base[count] = rng.poisson(expected.ravel()).astype("int64")
    totalled = [d for d in dims if total_code in (contract.columns[d].codelist or ())]
    parts = [base]
    for size in range(1, len(totalled) + 1):
        for subset in combinations(totalled, size):
            keep = [d for d in dims if d not in subset]
            margin = (
                base.groupby(keep, sort=False)[count].sum().reset_index()
                if keep
                else pd.DataFrame({count: [base[count].sum()]})
            )
            for d in subset:
                margin[d] = total_code
            parts.append(margin[[*dims, count]])
    frame = pd.concat(parts, ignore_index=True)
    columns = {}
    for name in contract.columns:
        if name in STATUS_COLUMNS:
            continue
        if name in frame:
            columns[name] = pa.array(
                frame[name].to_numpy(), type=pa.int64() if name == count else pa.string()
            )
        else:
            columns[name] = pa.array([_constant(contract, name, period)] * len(frame), type=pa.string())
    return pa.table(columns)


def _records(contract: Contract, period: str, rows: int, rng: np.random.Generator) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    child_codes = None
    for name, column in contract.columns.items():
        if name in STATUS_COLUMNS:
            continue
        if column.codelist is not None and column.type == "string":
            codes = _base_codes(contract, name)
            picks = rng.choice(len(codes), size=rows, p=_weights(codes, rng))
            values = np.asarray(codes, dtype=object)[picks]
            if name == "age_band":
                child_codes = np.isin(values, ["Y0T4", "Y5T9", "Y10T14", "Y15T17"])
            columns[name] = pa.array(values, type=pa.string())
        elif name in (contract.disclosure.get("pseudonymise") or []) or column.unique:
            ids = rng.permutation(10 * rows + 1000)[:rows] + 10**9
            columns[name] = pa.array([f"{contract.sender}{i}" for i in ids], type=pa.string())
        elif column.type == "boolean":
            odds = rng.random(rows) < 0.35
            columns[name] = pa.array(odds & child_codes if child_codes is not None else odds)
        elif column.type == "integer":
            low, high = int(column.minimum or 0), int(column.maximum or 99)
            columns[name] = pa.array(rng.integers(low, high + 1, rows), type=pa.int64())
        elif column.type == "number":
            columns[name] = pa.array(np.round(rng.gamma(2.0, 150.0, rows), 2), type=pa.float64())
        else:
            columns[name] = pa.array([_constant(contract, name, period)] * rows, type=pa.string())
    return pa.table(columns)


def _first(contract: Contract, table: pa.Table, test) -> str:
    for name in table.column_names:
        if test(contract.columns[name]):
            return name
    raise ValueError(f"contract {contract.id} has no column this violation applies to")


def _replace(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, values)


def _inject(contract: Contract, table: pa.Table, violation: str, rng: np.random.Generator) -> pa.Table:
    n = table.num_rows
    hits = np.zeros(n, dtype=bool)
    hits[rng.choice(n, size=max(1, n // 50), replace=False)] = True
    mask = pa.array(hits)
    if violation == "missing_column":
        return table.drop_columns([_first(contract, table, lambda c: c.codelist and len(c.codelist) > 1)])
    if violation == "extra_column":
        return table.append_column("remarks", pa.array(["n/a"] * n))
    if violation == "wrong_type":
        name = _first(contract, table, lambda c: c.type in ("integer", "boolean"))
        return _replace(table, name, table.column(name).cast(pa.string()))
    if violation == "null_in_required":
        name = _first(contract, table, lambda c: not c.nullable and c.codelist)
        return _replace(table, name, pc.if_else(mask, pa.scalar(None, pa.string()), table.column(name)))
    if violation == "unknown_code":
        name = _first(contract, table, lambda c: c.codelist and len(c.codelist) > 1)
        return _replace(table, name, pc.if_else(mask, "XX", table.column(name)))
    if violation == "out_of_range" and contract.disclosure.get("method") == "aggregate":
        name = contract.disclosure["countColumn"]
        return _replace(table, name, pc.if_else(mask, -3, table.column(name)))
    if violation in ("out_of_range", "bad_period"):
        bad = (
            f"{parse_period(contract, table.column('period')[0].as_py()).start.year}-13"
            if violation == "out_of_range"
            else "March 2025"
        )
        return _replace(table, "period", pc.if_else(mask, bad, table.column("period")))
    if violation == "duplicate_rows":
        return pa.concat_tables([table, table.filter(mask)])
    if violation == "minor_adult":
        minor = _first(contract, table, lambda c: c.type == "boolean")
        table = _replace(table, minor, pc.if_else(mask, True, table.column(minor)))
        return _replace(table, "age_band", pc.if_else(mask, "Y25T34", table.column("age_band")))
    if violation == "empty":
        return table.slice(0, 0)
    raise ValueError(f"unknown violation {violation!r}; known: {sorted(VIOLATIONS)}")


def generate(
    contract: Contract, period: str, rows: int | None = None, seed: int = 0, violations: Collection[str] = ()
) -> pa.Table:
    """A synthetic table for ``contract`` and ``period`` (rows apply to record-level data)."""
    parse_period(contract, period)
    rng = np.random.default_rng(seed)
    if contract.disclosure.get("method") == "aggregate":
        table = _aggregate(contract, period, rng)
    else:
        table = _records(contract, period, rows or 1000, rng)
    for violation in sorted(violations, key=lambda v: v == "empty"):
        table = _inject(contract, table, violation, rng)
    return table


def write_dataset(
    contract: Contract,
    path: Path,
    period: str,
    rows: int | None = None,
    seed: int = 0,
    violations: Collection[str] = (),
) -> Path:
    """Write ``generate(...)`` to a Parquet file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(generate(contract, period, rows, seed, violations), path)
    return path
