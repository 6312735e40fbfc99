"""Protect a frequency table: suppress, prove it with the exact audit, flag (SDMX codes).

Towards the partner every suppressed cell looks the same: count null, OBS_STATUS "M",
CONF_STATUS "C" (docs/disclosure.md, rule 2); published cells carry "A" / "F". Which
rule suppressed a cell (primary or secondary) is only in the sender's own report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from exchange.disclosure.attack import cube_intervals, judge, protection_targets
from exchange.disclosure.cube import STATUS_COLUMNS, Cube, check_margins, grouping_columns, split_cubes
from exchange.disclosure.earlier import pinned_rows
from exchange.disclosure.rules import DisclosureRules
from exchange.disclosure.suppression import FREE, PRIMARY, SECONDARY, suppress
from exchange.errors import DisclosureError

PUBLISHED = {"OBS_STATUS": "A", "CONF_STATUS": "F"}
SUPPRESSED = {"OBS_STATUS": "M", "CONF_STATUS": "C"}  # one flag for primary and secondary
_TOLERANCE = 1e-6


@dataclass
class CubeOutcome:
    """What protection did to one table (one cube): counts and the narrowest slack."""

    key: dict
    cells: int
    primary: int
    secondary: int
    by_dimension: dict[str, dict[str, int]]
    minimum_slack: float | None
    rounds: int

    def to_dict(self) -> dict:
        """JSON-able, counts only."""
        slack = self.minimum_slack
        return {"key": self.key, "cells": self.cells, "primarySuppressed": self.primary,
                "secondarySuppressed": self.secondary, "suppressedByDimension": self.by_dimension,
                "minimumSlack": None if slack is None or np.isinf(slack) else round(slack, 6),
                "suppressionRounds": self.rounds}


@dataclass
class AggregateOutcome:
    """Counts of what suppression did and what the audit proved (no values)."""

    cells: int
    primary: int
    secondary: int
    tables: list[CubeOutcome] = field(default_factory=list)
    audited_cells: int = 0
    pinned: int = 0

    @property
    def minimum_slack(self) -> float | None:
        slacks = [t.minimum_slack for t in self.tables if t.minimum_slack is not None]
        return min(slacks) if slacks else None


def protect_aggregate(table: pa.Table, rules: DisclosureRules,
                      earlier: Sequence[pa.Table] = ()) -> tuple[pa.Table, AggregateOutcome]:
    """Suppress small cells and their complements, prove it, return the table and counts.

    ``earlier``: releases of the same contract and period the partner already holds.
    Raises DisclosureError when the exact audit cannot be satisfied.
    """
    for name in STATUS_COLUMNS:
        if name in table.column_names and table.column(name).null_count != table.num_rows:
            raise DisclosureError(f"column {name} already holds status codes",
                                  hint="protect the original complete table, not a "
                                       "protected one")
    pinned = pinned_rows(table, rules, earlier)
    status = np.zeros(table.num_rows, dtype=np.int8)
    keys = grouping_columns(table, rules)
    tables = []
    audited = 0
    for cube in split_cubes(table, rules, pinned=pinned):
        check_margins(cube, rules)
        done, slack, rounds, n = _protect_cube(cube, rules)
        audited += n
        present = np.flatnonzero(cube.present)
        status[cube.row[present]] = done[present]
        first = int(cube.row[present[0]]) if present.size else 0
        tables.append(CubeOutcome(
            key={k: table.column(k)[first].as_py() for k in keys}, cells=int(present.size),
            primary=int((done == PRIMARY).sum()), secondary=int((done == SECONDARY).sum()),
            by_dimension=_by_dimension(cube, done, rules), minimum_slack=slack, rounds=rounds))
    out = _flagged(table, rules, status)
    outcome = AggregateOutcome(cells=table.num_rows, primary=int((status == PRIMARY).sum()),
                               secondary=int((status == SECONDARY).sum()), tables=tables,
                               audited_cells=audited, pinned=int(pinned.sum()))
    return out, outcome


def _protect_cube(cube: Cube, rules: DisclosureRules) -> tuple[np.ndarray, float | None, int, int]:
    """Suppress, audit, and widen the suppression until the audit passes (or give up)."""
    k, lower, upper = rules.minimum_cell_size, rules.protection_lower, rules.protection_upper
    if (cube.pinned & (cube.value > 0) & (cube.value < k)).any():
        raise DisclosureError(
            f"a cell below disclosure.minimumCellSize ({k}) was published in an earlier "
            "release with the same value", hint="the earlier release broke the rules; "
            "withdraw it before sending a revision")
    status = suppress(cube, k, lower, upper).status
    usable = cube.present & ~cube.pinned
    for rounds in (1, 2):
        slack, failed, audited = _audit(cube, status, rules)
        if not failed:
            return status, slack, rounds, audited
        status[usable & (status == FREE)] = SECONDARY  # widen: withhold the whole cube
    raise DisclosureError(
        f"protection failed its own exact audit: {failed} primary cell(s) could be "
        "narrowed inside disclosure.protectionLevels even with the whole table withheld",
        hint="cells published unchanged in earlier releases pin this table; lower "
             "protectionLevels in the contract or withdraw the earlier release")


def _audit(cube: Cube, status: np.ndarray, rules: DisclosureRules) -> tuple[float | None, int, int]:
    """Exact LP attack on the cube as the partner would see it: (min slack, failures, cells)."""
    seen = Cube(shape=cube.shape, axes=cube.axes, row=cube.row, value=cube.value,
                known=(status == FREE) | cube.pinned | ~cube.present, pinned=cube.pinned)
    slacks, failed, audited = [], 0, 0
    targets = protection_targets(cube.value, status == PRIMARY, rules)  # prove, not measure
    for flat, lo, hi in cube_intervals(seen, targets):
        audited += 1
        if status[flat] != PRIMARY:
            continue
        slack = judge(lo, hi, int(cube.value[flat]), rules.protection_lower,
                      rules.protection_upper)
        slacks.append(slack)
        failed += slack < -_TOLERANCE
    return (min(slacks) if slacks else None), failed, audited


def _by_dimension(cube: Cube, done: np.ndarray, rules: DisclosureRules) -> dict:
    hidden = np.flatnonzero(done != FREE)
    coords = np.unravel_index(hidden, cube.shape)
    out = {}
    for d, dim in enumerate(rules.dimensions):
        counts = np.bincount(coords[d], minlength=cube.shape[d])
        out[dim] = {str(cube.axes[d].codes[i]): int(c) for i, c in enumerate(counts) if c}
    return out


def _flagged(table: pa.Table, rules: DisclosureRules, status: np.ndarray) -> pa.Table:
    counts = table.column(rules.count_column)
    hidden = status != FREE
    published = pa.array(np.where(hidden, 0, counts.to_numpy()), type=counts.type, mask=hidden)
    out = table.set_column(table.column_names.index(rules.count_column),
                           rules.count_column, published)
    for name in STATUS_COLUMNS:
        column = pa.array(np.where(hidden, SUPPRESSED[name], PUBLISHED[name]).astype(object),
                          type=pa.string())
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, column)
        else:
            out = out.append_column(name, column)
    return out
