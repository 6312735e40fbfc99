"""The exact interval of every cell of one component: the reference of the audit.

``audit_table(..., exact=True)`` uses it (reports, tests); ``protect`` only needs the
proof of :func:`exchange.disclosure.attack_lp.prove_component`, which gives the same
verdicts with far fewer programs.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from exchange.disclosure.attack_lp import TOLERANCE, Seen, Solver

_RAY = 1e-5  # a ray component above this is real (interior-point accuracy ~1e-8)


def interval_component(a: csr_matrix, b: np.ndarray, full: tuple[csr_matrix, np.ndarray]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Exact min and max of every cell of one component.

    Unbounded cells come from one homogeneous program (a ray ``A r = 0, r >= 0``), so
    no program is spent proving infinity. Programs pushing every open cell at once
    then settle most bounds (a feasible table reaching 0, or the tightest margin, is
    exact); each cell still open gets its own warm-started program.
    """
    n = a.shape[1]
    if a.shape[0] == 0:
        return np.zeros(n), np.full(n, np.inf)
    unbounded = _unbounded(a, full[0])
    ceiling = _upper_bounds(*full)
    solver = Solver(a, b, full=full)
    seen = Seen(n)
    todo = np.ones(n, dtype=bool)
    while todo.any():  # minimise the sum of the cells not yet seen at 0
        seen.add(solver.solve(todo.astype(np.float64))[1])
        before, todo = int(todo.sum()), seen.lo > TOLERANCE
        if todo.sum() >= before:
            break
    todo = ~unbounded & ~(seen.hi >= ceiling - TOLERANCE)
    while todo.any():  # maximise the bounded cells not yet seen at their ceiling
        seen.add(solver.solve(-todo.astype(np.float64))[1])
        before, todo = int(todo.sum()), ~unbounded & ~(seen.hi >= ceiling - TOLERANCE)
        if todo.sum() >= before:
            break
    lo = np.where(seen.lo <= TOLERANCE, 0.0, np.nan)
    hi = np.where(unbounded, np.inf, np.where(seen.hi >= ceiling - TOLERANCE, ceiling, np.nan))
    for j in np.flatnonzero(np.isnan(lo)):
        if seen.lo[j] <= TOLERANCE:
            lo[j] = 0.0
            continue
        value, x = solver.unit(j, 1.0)
        seen.add(x)
        lo[j] = max(value, 0.0)
    for j in np.flatnonzero(np.isnan(hi)):
        if seen.hi[j] >= ceiling[j] - TOLERANCE:
            hi[j] = ceiling[j]
            continue
        value, x = solver.unit(j, -1.0)
        seen.add(x)
        hi[j] = -value
    return lo, hi


def _upper_bounds(a: csr_matrix, b: np.ndarray) -> np.ndarray:
    """Per variable, the tightest bound from an equation whose unknowns share one sign."""
    bound = np.full(a.shape[1], np.inf)
    signs = a.sign()
    positive = np.asarray((signs > 0).sum(axis=1)).ravel()
    negative = np.asarray((signs < 0).sum(axis=1)).ravel()
    for rows, flip in ((negative == 0, 1.0), (positive == 0, -1.0)):
        sub = a[np.flatnonzero(rows)].tocoo()
        limit = flip * b[np.flatnonzero(rows)]
        np.minimum.at(bound, sub.col, limit[sub.row])
    return bound


def _unbounded(a: csr_matrix, a_full: csr_matrix) -> np.ndarray:
    """Cells that can grow without limit: the support of the rays ``A r = 0, r >= 0``.

    Interior point (no crossover) lands inside the optimal face, so one program finds
    nearly the whole support; repeating over the cells not yet found makes it complete.
    """
    n = a.shape[1]
    ray = Solver(a, np.zeros(a.shape[0]), upper=1.0, interior=True,
                  full=(a_full, np.zeros(a_full.shape[0])), tolerance=_RAY)
    found = np.zeros(n, dtype=bool)
    while not found.all():
        value, r = ray.solve(-(~found).astype(np.float64))
        new = (r > _RAY) & ~found
        if value > -_RAY or not new.any():
            break
        found |= new
    return found
