"""The attacker's check: how precisely can each suppressed cell be recomputed?

The attacker (docs/disclosure.md) knows every published count and flag, that a missing
combination is 0, that every suppressed count is >= 0, every margin relation (``_T``
and the code-list hierarchies' subtotals) and every cell an earlier release published
unchanged. For every suppressed cell it computes the exact interval ``[lo, hi]`` of
values consistent with all that, by linear programming (HiGHS through ``highspy``):
one model per connected group of suppressed cells, re-solved with only the objective
changed (warm start from the last basis). A cell whose bound is already attained by a
feasible table found so far (0, or the tightest margin it enters) needs no program of
its own. A primary cell (true value ``x`` in 1..k-1) passes when
``lo <= x - min(L, x)`` and ``hi >= x + U`` (protection levels L, U).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix, csc_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from exchange.disclosure.cube import Cube, split_cubes
from exchange.disclosure.rules import DisclosureRules, as_rules
from exchange.errors import DisclosureError

_TOLERANCE = 1e-6
_RAY = 1e-5  # a ray component above this is real (interior-point accuracy ~1e-8)
_PRIMAL = 4  # HiGHS simplex_strategy: primal simplex
_DONE = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnbounded,
         highspy.HighsModelStatus.kUnboundedOrInfeasible)


@dataclass(frozen=True)
class AuditCell:
    """One suppressed cell: its table row and the exact interval an attacker derives.

    ``primary``: its true value is in 1..k-1 (known only with the original table);
    ``slack``: how far beyond the protection levels the interval reaches (min of both
    ends; negative means it fails), ``None`` for secondary cells.
    """

    row: int
    lo: float
    hi: float
    ok: bool
    primary: bool = False
    slack: float | None = None


@dataclass
class AuditResult:
    """The verdict on a published table (intervals of counts only, never identities)."""

    protection_lower: int
    protection_upper: int
    minimum_cell_size: int
    cells: list[AuditCell] = field(default_factory=list)
    small_published: int = 0

    @property
    def ok(self) -> bool:
        return self.small_published == 0 and all(c.ok for c in self.cells)

    @property
    def failed(self) -> list[AuditCell]:
        return [c for c in self.cells if not c.ok]

    @property
    def minimum_slack(self) -> float | None:
        """The narrowest margin found over the primary cells (None: no primary cell)."""
        slacks = [c.slack for c in self.cells if c.slack is not None]
        return min(slacks) if slacks else None

    def to_dict(self) -> dict:
        """JSON-able summary: counts of cells proven and failed, the narrowest slack."""
        slack = self.minimum_slack
        return {"ok": self.ok, "suppressedCells": len(self.cells),
                "primaryCells": sum(c.primary for c in self.cells),
                "provenCells": len(self.cells) - len(self.failed),
                "failedCells": len(self.failed),
                "publishedBelowMinimum": self.small_published,
                "protectionLevels": {"lower": self.protection_lower,
                                     "upper": self.protection_upper},
                "minimumSlack": None if slack is None or np.isinf(slack) else round(slack, 6)}


def judge(lo: float, hi: float, x: int, lower: int, upper: int) -> float:
    """Slack of a primary cell: >= 0 when its interval meets the protection levels."""
    return min((x - min(lower, x)) - lo, hi - (x + upper))


def audit_table(table: pa.Table, rules: DisclosureRules | dict, *,
                original: pa.Table | None = None, earlier: Sequence[pa.Table] = ()
                ) -> AuditResult:
    """Attack a protected table; report each suppressed cell's exact interval and the verdict.

    ``original``: the table before protection (same rows), which tells the primary cells
    and their true values; without it every suppressed cell is judged as if primary
    with the worst value for it. ``earlier``: releases the partner already holds; each
    cell they published with the value it still has (per ``original``) is known.
    """
    from exchange.disclosure.earlier import pinned_rows

    rules = as_rules(rules)
    if rules.method != "aggregate":
        raise DisclosureError(f"audit_table needs disclosure.method aggregate, "
                              f"not {rules.method}", hint="audit frequency tables only")
    result = AuditResult(protection_lower=rules.protection_lower,
                         protection_upper=rules.protection_upper,
                         minimum_cell_size=rules.minimum_cell_size)
    truth = None
    if original is not None:
        truth = original.column(rules.count_column).to_numpy(zero_copy_only=False)
    pinned = pinned_rows(original if original is not None else table, rules, earlier)
    for cube in split_cubes(table, rules, allow_unknown=True, pinned=pinned):
        shown = cube.present & cube.known & ~cube.pinned
        small = shown & (cube.value > 0) & (cube.value < rules.minimum_cell_size)
        result.small_published += int(small.sum())
        for flat, lo, hi in cube_intervals(cube):
            row = int(cube.row[flat])
            result.cells.append(_cell(row, lo, hi, None if truth is None else int(truth[row]),
                                      rules))
    result.cells.sort(key=lambda c: c.row)
    return result


def _cell(row: int, lo: float, hi: float, x: int | None, rules: DisclosureRules) -> AuditCell:
    k, lower, upper = rules.minimum_cell_size, rules.protection_lower, rules.protection_upper
    if x is None:  # unknown truth: every value in [max(lo, 1), min(hi, k-1)] must pass
        worst = min((judge(lo, hi, v, lower, upper)
                     for v in range(max(1, int(np.ceil(lo - _TOLERANCE))),
                                    int(min(hi + _TOLERANCE, k - 1)) + 1)), default=None)
        return AuditCell(row=row, lo=lo, hi=hi, ok=worst is None or worst >= -_TOLERANCE,
                         primary=worst is not None, slack=worst)
    if not 0 < x < k:
        return AuditCell(row=row, lo=lo, hi=hi, ok=True)
    slack = judge(lo, hi, x, lower, upper)
    return AuditCell(row=row, lo=lo, hi=hi, ok=slack >= -_TOLERANCE, primary=True, slack=slack)


def cube_system(cube: Cube, spanning: bool = False) -> tuple[np.ndarray, csr_matrix, np.ndarray]:
    """Suppressed cells and the margin equations over them: ``A x = b``.

    ``spanning``: keep only the equations of axis ``d`` whose cell has no margin code
    (a relation's parent) on an axis before ``d``. Each dropped equation is a sum of
    kept ones (a margin along ``d`` of a margin along ``e`` is the margin along ``e``
    of margins along ``d``), so for a consistent table the solutions are the same; the
    callers still check every solution against the full system.
    """
    hidden = np.flatnonzero(cube.present & ~cube.known)
    column = np.full(cube.row.size, -1, dtype=np.int64)
    column[hidden] = np.arange(hidden.size)
    rows, cols, coef, rhs = [], [], [], []
    n_eq = 0
    margin = np.zeros(cube.row.size, dtype=bool)  # a margin code on an axis already seen
    for axis in range(len(cube.shape)):
        parents = []
        for _parent, totals, children in cube.relations(axis):
            parents.append(totals)
            if spanning:
                keep = ~margin[totals]
                totals, children = totals[keep], children[keep]
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
            rhs.append(-(np.where(u, 0, cube.value[m]) * s).sum(axis=1))
            n_eq += involved.size
        for totals in parents:
            margin[totals] = True
    if not rows:
        return hidden, csr_matrix((0, hidden.size)), np.zeros(0)
    a = coo_matrix((np.concatenate(coef), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(n_eq, hidden.size)).tocsr()
    return hidden, a, np.concatenate(rhs).astype(np.float64)


def _upper_bounds(a: csr_matrix, b: np.ndarray) -> np.ndarray:
    """Per variable, the tightest bound from an equation whose unknowns share one sign."""
    bound = np.full(a.shape[1], np.inf)
    signs = a.sign()
    positive = np.asarray((signs > 0).sum(axis=1)).ravel()
    negative = np.asarray((signs < 0).sum(axis=1)).ravel()
    for rows, flip in ((negative == 0, 1.0), (positive == 0, -1.0)):
        sub = a[np.flatnonzero(rows)]
        limit = flip * b[np.flatnonzero(rows)]
        sub = sub.tocoo()
        np.minimum.at(bound, sub.col, limit[sub.row])
    return bound


def cube_intervals(cube: Cube) -> Iterator[tuple[int, float, float]]:
    """Yield ``(flat cell, lo, hi)``, the exact interval of every suppressed cell of a cube."""
    hidden, a, b = cube_system(cube)
    if hidden.size == 0:
        return
    _, spanning, b_spanning = cube_system(cube, spanning=True)
    n = hidden.size
    graph = coo_matrix((np.ones(a.nnz), (a.tocoo().row + n, a.tocoo().col)),
                       shape=(n + a.shape[0], n + a.shape[0]))
    _, label = connected_components(graph, directed=False)
    var_label, row_label = label[:n], label[n:]
    order = np.argsort(var_label, kind="stable")
    bounds = np.flatnonzero(np.diff(var_label[order])) + 1
    ceiling = _upper_bounds(a, b)
    for var in np.split(order, bounds):
        eqs = np.flatnonzero(np.isin(row_label, var_label[var[:1]]))
        full = (a[eqs][:, var], b[eqs])
        kept = np.flatnonzero(np.diff(spanning[:, var].indptr))  # rows of this component
        lo, hi = _component(spanning[kept][:, var], b_spanning[kept], ceiling[var], full)
        for j, flat in enumerate(hidden[var]):
            yield int(flat), float(lo[j]), float(hi[j])


def _component(a: csr_matrix, b: np.ndarray, ceiling: np.ndarray,
               full: tuple[csr_matrix, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Exact min and max of every variable of one connected system (x >= 0, A x = b).

    Unbounded cells come from one homogeneous program (a ray ``A r = 0, r >= 0``), so
    no program is spent proving infinity. Programs pushing every open cell at once
    then settle most bounds (a feasible table reaching 0, or the tightest margin, is
    exact); each cell still open gets its own warm-started program.
    """
    n = a.shape[1]
    if a.shape[0] == 0:
        return np.zeros(n), np.full(n, np.inf)
    unbounded = _unbounded(a, full[0])
    solver = _Solver(a, b, full=full)
    seen_lo, seen_hi = np.full(n, np.inf), np.full(n, -np.inf)

    def record(x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(seen_lo, x, out=seen_lo)
            np.maximum(seen_hi, x, out=seen_hi)

    open_lo = np.ones(n, dtype=bool)
    while open_lo.any():  # minimise the sum of the cells not yet seen at 0
        before = int(open_lo.sum())
        record(solver.solve(open_lo.astype(np.float64), keep=True)[1])
        open_lo = seen_lo > _TOLERANCE
        if open_lo.sum() >= before:
            break
    open_hi = ~unbounded & ~(seen_hi >= ceiling - _TOLERANCE)
    while open_hi.any():  # maximise the bounded cells not yet seen at their ceiling
        before = int(open_hi.sum())
        record(solver.solve(-open_hi.astype(np.float64), keep=True)[1])
        open_hi = ~unbounded & ~(seen_hi >= ceiling - _TOLERANCE)
        if open_hi.sum() >= before:
            break
    lo = np.where(seen_lo <= _TOLERANCE, 0.0, np.nan)
    hi = np.where(unbounded, np.inf, np.where(seen_hi >= ceiling - _TOLERANCE, ceiling, np.nan))
    for j in np.flatnonzero(np.isnan(lo)):  # each optimum is a feasible table: record it
        if seen_lo[j] <= _TOLERANCE:
            lo[j] = 0.0
            continue
        value, x = solver.unit(j, 1.0)
        record(x)
        lo[j] = max(value, 0.0)
    for j in np.flatnonzero(np.isnan(hi)):
        if seen_hi[j] >= ceiling[j] - _TOLERANCE:
            hi[j] = ceiling[j]
            continue
        value, x = solver.unit(j, -1.0)
        record(x)
        hi[j] = -value
    return lo, hi


def _unbounded(a: csr_matrix, a_full: csr_matrix) -> np.ndarray:
    """Cells that can grow without limit: the support of the rays ``A r = 0, r >= 0``.

    Interior point (no crossover) lands inside the optimal face, so one program finds
    nearly the whole support; repeating over the cells not yet found makes it complete.
    """
    n = a.shape[1]
    ray = _Solver(a, np.zeros(a.shape[0]), upper=1.0, interior=True,
                  full=(a_full, np.zeros(a_full.shape[0])), tolerance=_RAY)
    found = np.zeros(n, dtype=bool)
    while not found.all():
        value, r = ray.solve(-(~found).astype(np.float64), keep=True)
        new = (r > _RAY) & ~found
        if value > -_RAY or not new.any():
            break
        found |= new
    return found


class _Solver:
    """One HiGHS model per component; each solve changes only the objective (warm start)."""

    def __init__(self, a: csr_matrix, b: np.ndarray, upper: float = highspy.kHighsInf,
                 interior: bool = False, full: tuple[csr_matrix, np.ndarray] | None = None,
                 tolerance: float = _TOLERANCE) -> None:
        csc = csc_matrix(a)
        self.full = full  # the complete system every solution must satisfy (see cube_system)
        self.tolerance = tolerance
        n, m = a.shape[1], a.shape[0]
        self.n = n
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        if interior:
            self.h.setOptionValue("solver", "ipm")
            self.h.setOptionValue("run_crossover", "off")
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.full(n, upper)
        lp.row_lower_ = b
        lp.row_upper_ = b
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
        self.h.passModel(lp)
        self.cost = np.zeros(n)
        self.solves = 0

    def solve(self, cost: np.ndarray, keep: bool = False) -> tuple[float, np.ndarray | None]:
        changed = np.flatnonzero(cost != self.cost)
        if changed.size:
            self.h.changeColsCost(changed.size, changed.astype(np.int32), cost[changed])
            self.cost = cost.copy()
        self.h.run()
        if self.solves == 0:  # presolve helps the first solve only; later ones warm-start
            self.h.setOptionValue("presolve", "off")
            # a new objective leaves the basis primal feasible: primal simplex goes on from
            # it (dual simplex would first repair dual feasibility: ~10x the iterations)
            self.h.setOptionValue("simplex_strategy", _PRIMAL)
        status = self.h.getModelStatus()
        if status not in _DONE:  # a stale basis (e.g. after an unbounded ray): start afresh
            self.h.clearSolver()
            self.h.run()
            status = self.h.getModelStatus()
        self.solves += 1
        if status in (highspy.HighsModelStatus.kUnbounded,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return -np.inf, None
        if status != highspy.HighsModelStatus.kOptimal:
            raise DisclosureError(
                "the published margins contradict each other (linear program: "
                f"{self.h.modelStatusToString(status)})",
                hint="the table's totals do not add up; republish it whole")
        value = self.h.getInfo().objective_function_value
        if not keep and self.full is None:
            return value, None
        x = np.asarray(self.h.getSolution().col_value)
        if self.full is not None:
            a, b = self.full
            if np.abs(a @ x - b).max(initial=0.0) > self.tolerance * (1.0 + np.abs(b).max(initial=0.0)):
                raise DisclosureError(
                    "the published margins contradict each other (a table meeting the "
                    "independent margin equations breaks another one)",
                    hint="the table's totals do not add up; republish it whole")
        return value, x

    def unit(self, j: int, sign: float) -> tuple[float, np.ndarray | None]:
        """Minimise ``sign * x_j``."""
        cost = np.zeros(self.n)
        cost[j] = sign
        return self.solve(cost, keep=True)
