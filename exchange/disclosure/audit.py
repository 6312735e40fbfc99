"""The attacker's check: how precisely can each suppressed cell be recomputed?

The attacker knows every published count, that counts are never negative, and every
margin relation the table contains (a ``_T`` row is the sum of the cells it totals).
For each suppressed cell the feasible interval ``[lo, hi]`` is found by linear
programming (scipy's HiGHS): minimise and maximise the cell subject to those facts.
A cell is protected when ``hi - lo >= protectionInterval``. Suppressed cells that
share no relation are independent, so each connected group of them is solved alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from exchange.disclosure.cube import Cube, split_cubes
from exchange.disclosure.rules import DisclosureRules, as_rules
from exchange.errors import DisclosureError

_TOLERANCE = 1e-6


@dataclass(frozen=True)
class AuditCell:
    """One suppressed cell: its table row and the interval an attacker can derive.

    ``exact`` False: ``[lo, hi]`` is a proven part of that interval (it is at least as
    wide), enough to show the cell is protected.
    """

    row: int
    lo: float
    hi: float
    ok: bool
    exact: bool = True


@dataclass
class AuditResult:
    """The verdict on a published table (intervals of counts only, never identities)."""

    protection_interval: int
    minimum_cell_size: int
    cells: list[AuditCell] = field(default_factory=list)
    small_published: int = 0

    @property
    def ok(self) -> bool:
        return self.small_published == 0 and all(c.ok for c in self.cells)

    @property
    def failed(self) -> list[AuditCell]:
        return [c for c in self.cells if not c.ok]

    def to_dict(self) -> dict:
        """JSON-able summary: counts of cells proven and failed."""
        return {"ok": self.ok, "suppressedCells": len(self.cells),
                "provenCells": len(self.cells) - len(self.failed),
                "failedCells": len(self.failed),
                "publishedBelowMinimum": self.small_published,
                "protectionInterval": self.protection_interval}


def audit_table(table: pa.Table, rules: DisclosureRules | dict, *,
                exact: bool = True) -> AuditResult:
    """Attack a protected table; report each suppressed cell's interval and the verdict.

    ``exact=True`` computes every suppressed cell's exact interval. ``exact=False``
    proves the same verdict faster: cells already shown to be wide enough carry a
    proven sub-interval (``AuditCell.exact`` False) instead of the exact one.
    """
    rules = as_rules(rules)
    if rules.method != "aggregate":
        raise DisclosureError(f"audit_table needs disclosure.method aggregate, "
                              f"not {rules.method}", hint="audit frequency tables only")
    result = AuditResult(protection_interval=rules.protection_interval,
                         minimum_cell_size=rules.minimum_cell_size)
    need = max(rules.protection_interval, 1)
    for cube in split_cubes(table, rules, allow_unknown=True):
        shown = cube.present & cube.known
        small = shown & (cube.value > 0) & (cube.value < rules.minimum_cell_size)
        result.small_published += int(small.sum())
        for flat, lo, hi, is_exact in cube_intervals(cube, need, exact):
            result.cells.append(AuditCell(row=int(cube.row[flat]), lo=lo, hi=hi,
                                          ok=hi - lo >= need - _TOLERANCE, exact=is_exact))
    result.cells.sort(key=lambda c: c.row)
    return result


def _system(cube: Cube) -> tuple[np.ndarray, csr_matrix, np.ndarray]:
    """Unknown cells and the margin equations over them: ``A x = b``."""
    hidden = np.flatnonzero(cube.present & ~cube.known)
    column = np.full(cube.row.size, -1, dtype=np.int64)
    column[hidden] = np.arange(hidden.size)
    rows, cols, coef, rhs = [], [], [], []
    n_eq = 0
    for axis, has_total in enumerate(cube.has_total):
        if not has_total:
            continue
        totals, children = cube.relations(axis)
        members = np.concatenate([children, totals[:, None]], axis=1)
        sign = np.ones(members.shape, dtype=np.float64)
        sign[:, -1] = -1.0
        unknown = column[members] >= 0
        involved = np.flatnonzero(unknown.any(axis=1))
        if involved.size == 0:
            continue
        m, s, u = members[involved], sign[involved], unknown[involved]
        eq, pos = np.nonzero(u)
        rows.append(eq + n_eq)
        cols.append(column[m[eq, pos]])
        coef.append(s[eq, pos])
        known_part = (np.where(u, 0, cube.value[m]) * s).sum(axis=1)
        rhs.append(-known_part)
        n_eq += involved.size
    if not rows:
        return hidden, csr_matrix((0, hidden.size)), np.zeros(0)
    a = coo_matrix((np.concatenate(coef), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(n_eq, hidden.size)).tocsr()
    return hidden, a, np.concatenate(rhs).astype(np.float64)


def cube_intervals(cube: Cube, need: int, exact: bool = True):
    """Yield ``(flat cell, lo, hi, exact)`` for every suppressed cell of one cube.

    ``exact``: two linear programs per cell give its exact interval. Otherwise a few
    programs with mixed objectives first find feasible tables; every feasible table is
    one the attacker cannot rule out, so the spread of a cell's values across them is a
    proven lower bound on its interval. Only cells whose spread stays below ``need``
    get their own two programs, so the verdict is the same, at a fraction of the cost.
    """
    hidden, a, b = _system(cube)
    if hidden.size == 0:
        return
    _, label = connected_components(a.T @ a, directed=False)
    cap = None if exact else float(cube.value[cube.known & cube.present].sum() + need)
    for comp in np.unique(label):
        var = np.flatnonzero(label == comp)
        eqs = np.unique(a[:, var].nonzero()[0])
        sub_a, sub_b = a[eqs][:, var], b[eqs]
        lo, hi = np.full(var.size, np.inf), np.full(var.size, -np.inf)

        def solve(objective, lo=lo, hi=hi, sub_a=sub_a, sub_b=sub_b):
            value, x = _optimise(sub_a, sub_b, objective, cap)
            if x is not None:
                np.minimum(lo, x, out=lo)
                np.maximum(hi, x, out=hi)
            return value

        if not exact:  # mixed objectives over the cells not yet shown wide enough
            rng = np.random.default_rng(var.size)
            open_cells = np.ones(var.size, dtype=bool)
            while open_cells.sum() > 2:
                before = open_cells.sum()
                objective = np.where(open_cells, rng.choice([-1.0, 1.0], size=var.size), 0.0)
                solve(objective)
                solve(-objective)  # every open cell is pushed one way, then the other
                open_cells = hi - lo < need - _TOLERANCE
                if open_cells.sum() > 0.8 * before:
                    break
        proven = np.zeros(var.size, dtype=bool)
        for j in range(var.size):
            if not exact and hi[j] - lo[j] >= need - _TOLERANCE:
                continue
            unit = np.zeros(var.size)
            unit[j] = 1.0
            lo[j] = min(lo[j], solve(unit))
            hi[j] = max(hi[j], -solve(-unit))
            proven[j] = True
        for j, flat in enumerate(hidden[var]):
            yield int(flat), float(lo[j]), float(hi[j]), bool(exact or proven[j])


def _optimise(a: csr_matrix, b: np.ndarray, objective: np.ndarray,
              cap: float | None) -> tuple[float, np.ndarray | None]:
    """Minimise ``objective @ x`` over the attacker's feasible tables (optionally boxed)."""
    res = linprog(objective, A_eq=a if a.shape[0] else None, b_eq=b if a.shape[0] else None,
                  bounds=(0, cap), method="highs")
    if res.status == 3:  # unbounded below: the cell can grow without limit
        return -np.inf, None
    if res.status != 0:
        raise DisclosureError("the published margins contradict each other "
                              f"(linear program: {res.message})",
                              hint="the table's totals do not add up; republish it whole")
    return float(res.fun), res.x
