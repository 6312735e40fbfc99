"""The attacker's linear programs over one component (``A x = b``, ``x >= 0``).

Two questions, both exact:

* :func:`prove_component` (what protection needs): does every cell's interval reach its
  targets (``min <= need_lo``, ``max >= need_hi``)? Any feasible table is a proof for
  every cell it reaches, so a few programs each push all cells still unproven at once
  (minimise their sum; maximise the sum of their values capped at their targets). Only a
  cell no such table reaches gets a program of its own, whose optimum is its exact
  bound: below the target it is a real finding, with the exact value.
* the exact min and max of every cell (the reference):
  :mod:`exchange.disclosure.attack_exact`.

All programs of a component share one HiGHS model and differ only in the objective:
within a phase (max, then min) each solve warm-starts from the last basis by primal
simplex; a new phase starts afresh (from the other phase's optimum it took 10-60 times
the iterations).
"""

from __future__ import annotations

from collections.abc import Callable

import highspy
import numpy as np
from scipy.sparse import bmat, csc_matrix, csr_matrix, identity

from exchange.errors import DisclosureError

TOLERANCE = 1e-6
_PRIMAL = 4  # HiGHS simplex_strategy: primal simplex
_DONE = (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kUnbounded,
         highspy.HighsModelStatus.kUnboundedOrInfeasible)
_SOLVES = [0]


def lp_count() -> int:
    """Linear programs solved in this process so far (for the benchmark)."""
    return _SOLVES[0]


class Seen:
    """The smallest and largest value of each cell over the feasible tables found."""

    def __init__(self, n: int) -> None:
        self.lo, self.hi = np.full(n, np.inf), np.full(n, -np.inf)

    def add(self, x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(self.lo, x, out=self.lo)
            np.maximum(self.hi, x, out=self.hi)


def prove_component(a: csr_matrix, b: np.ndarray, full: tuple[csr_matrix, np.ndarray],
                    need_lo: np.ndarray, need_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell ``(lo, hi)``: a proven end where it reaches the target, else the exact one.

    ``need_lo`` (``+inf``: none) and ``need_hi`` (``-inf``: none) are the targets.
    A returned ``lo <= need_lo`` is the value of a feasible table (the true minimum is
    at most that); a ``lo`` above it is the exact minimum (the same for ``hi``). Cells
    without a target on a side get ``nan`` there.
    """
    n = a.shape[1]
    want_lo, want_hi = np.isfinite(need_lo), np.isfinite(need_hi)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    if a.shape[0] == 0:  # no equation: 0 and unbounded
        lo[want_lo], hi[want_hi] = 0.0, np.inf
        return lo, hi
    capped = np.flatnonzero(want_hi)
    solver = Solver(a, b, full=full, caps=(capped, need_hi[capped]))
    seen = Seen(n)
    width = n + capped.size

    def open_lo() -> np.ndarray:
        return want_lo & ~(seen.lo <= need_lo + TOLERANCE)

    def open_hi() -> np.ndarray:
        return want_hi & ~(seen.hi >= need_hi - TOLERANCE)

    def cost_hi(cells: np.ndarray) -> np.ndarray:  # maximise their capped values
        cost = np.zeros(width)
        cost[n + np.searchsorted(capped, cells)] = -1.0
        return cost

    def cost_lo(cells: np.ndarray) -> np.ndarray:  # minimise their values
        cost = np.zeros(width)
        cost[cells] = 1.0
        return cost

    rows = csc_matrix(a)
    _push(solver, seen, open_hi, cost_hi, lambda j, value: hi.__setitem__(j, -value), rows)
    solver.restart()  # a basis far from the other objective's optimum: start afresh
    _push(solver, seen, open_lo, cost_lo, lambda j, value: lo.__setitem__(j, max(value, 0.0)),
          rows)
    proven_lo = want_lo & np.isnan(lo)
    proven_hi = want_hi & np.isnan(hi)
    lo[proven_lo] = np.maximum(seen.lo[proven_lo], 0.0)
    hi[proven_hi] = seen.hi[proven_hi]
    return lo, hi


def _push(solver: Solver, seen: Seen, unproven: Callable[[], np.ndarray],
          cost: Callable[[np.ndarray], np.ndarray], exact: Callable[[int, float], None],
          rows: csc_matrix) -> None:
    """Solve for groups of unproven cells until each is proven or has its exact bound.

    The first group is every unproven cell. Later ones (the cells that competed for the
    same margins) share no equation (:func:`_apart`), so one table can prove them all;
    a group whose table proves none of its cells is halved. A group of one is the
    cell's own program: unproven after it, its optimum is the exact bound (a capped
    maximum below its cap is the maximum).
    """
    limit = None
    decided = np.zeros(seen.lo.size, dtype=bool)
    while True:
        todo = np.flatnonzero(unproven() & ~decided)
        if todo.size == 0:
            return
        cells = todo if limit is None else _apart(todo, rows)[:limit]
        value, x = solver.solve(cost(cells))
        seen.add(x)
        still = unproven()[cells]
        if cells.size == 1 and still[0]:
            exact(int(cells[0]), value)
            decided[cells[0]] = True
        elif still.all():
            limit = max(1, cells.size // 2)
        elif limit is None:
            limit = todo.size


def _apart(cells: np.ndarray, rows: csc_matrix) -> np.ndarray:
    """A greedy subset of ``cells`` (the first always in) no two of which share an equation."""
    used: set[int] = set()
    chosen = []
    for cell in cells.tolist():
        mine = rows.indices[rows.indptr[cell]:rows.indptr[cell + 1]].tolist()
        if not used.intersection(mine):
            used.update(mine)
            chosen.append(cell)
    return np.asarray(chosen, dtype=np.int64)


class Solver:
    """One HiGHS model per component; each solve changes only the objective (warm start).

    ``caps=(cells, targets)`` adds a column ``y`` per listed cell with
    ``0 <= y <= target`` and ``y <= x_cell`` (after the ``n`` cell columns), so an
    objective on ``y`` counts each cell's value only up to its target.
    """

    def __init__(self, a: csr_matrix, b: np.ndarray, upper: float = highspy.kHighsInf,
                 interior: bool = False, full: tuple[csr_matrix, np.ndarray] | None = None,
                 tolerance: float = TOLERANCE,
                 caps: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.full = full  # the complete system every solution must satisfy
        self.tolerance = tolerance
        n = a.shape[1]
        row_lower, row_upper = b, b
        col_upper = np.full(n, upper)
        if caps is not None and caps[0].size:
            cells, targets = caps
            p = cells.size
            pick = csr_matrix((np.full(p, -1.0), (np.arange(p), cells)), shape=(p, n))
            a = bmat([[a, None], [pick, identity(p, format="csr")]], format="csr")
            row_lower = np.concatenate([b, np.full(p, -highspy.kHighsInf)])
            row_upper = np.concatenate([b, np.zeros(p)])
            col_upper = np.concatenate([col_upper, np.asarray(targets, dtype=np.float64)])
        csc = csc_matrix(a)
        self.n, self.width, rows = n, a.shape[1], a.shape[0]
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        if interior:
            self.h.setOptionValue("solver", "ipm")
            self.h.setOptionValue("run_crossover", "off")
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.width, rows
        lp.col_cost_ = np.zeros(self.width)
        lp.col_lower_ = np.zeros(self.width)
        lp.col_upper_ = col_upper
        lp.row_lower_ = row_lower
        lp.row_upper_ = row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
        lp.a_matrix_.index_ = csc.indices.astype(np.int32)
        lp.a_matrix_.value_ = csc.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = self.width, rows
        self.h.passModel(lp)
        self.cost = np.zeros(self.width)
        self.solves = 0

    def restart(self) -> None:
        """Forget the basis: the next solve starts afresh (with presolve)."""
        if self.solves:
            self.h.clearSolver()
            self.h.setOptionValue("presolve", "choose")
            self.h.setOptionValue("simplex_strategy", 1)
            self.solves = 0

    def solve(self, cost: np.ndarray) -> tuple[float, np.ndarray | None]:
        """Minimise ``cost @ columns``: (optimum, the cells' values), (-inf, None) if unbounded."""
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
        _SOLVES[0] += 1
        if status in (highspy.HighsModelStatus.kUnbounded,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return -np.inf, None
        if status != highspy.HighsModelStatus.kOptimal:
            raise DisclosureError(
                "the published margins contradict each other (linear program: "
                f"{self.h.modelStatusToString(status)})",
                hint="the table's totals do not add up; republish it whole")
        value = self.h.getInfo().objective_function_value
        x = np.asarray(self.h.getSolution().col_value)[:self.n]
        if self.full is not None:
            a, b = self.full
            scale = self.tolerance * (1.0 + np.abs(b).max(initial=0.0))
            if np.abs(a @ x - b).max(initial=0.0) > scale or x.min(initial=0.0) < -scale:
                raise DisclosureError(
                    "the published margins contradict each other (a table meeting the "
                    "independent margin equations breaks another one)",
                    hint="the table's totals do not add up; republish it whole")
        return value, x

    def unit(self, j: int, sign: float) -> tuple[float, np.ndarray | None]:
        """Minimise ``sign * x_j``."""
        cost = np.zeros(self.width)
        cost[j] = sign
        return self.solve(cost)
