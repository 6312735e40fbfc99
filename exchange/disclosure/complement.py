"""Complements of one primary cell by linear programming on a small box of the cube.

A *certificate* for a primary cell ``p`` is a change ``y`` of the table that keeps every
margin true (``A y = 0``, the margin equations of :mod:`exchange.disclosure.cube`),
keeps every count at 0 or more (``x + y >= 0``), leaves every published cell alone and
moves ``p`` by the protection level it needs (``y_p = +U`` or ``y_p = -min(L, x)``).
Suppressing the support of ``y`` is then enough for that direction: the attacker cannot
rule out the table ``x + y``. This is tau-Argus's "optimal" model for one primary and
one direction, solved on a *box*: per axis, the primary's position with its parents up
to the total, and a few leaves (with theirs) whose neighbouring cells can best absorb
the change. Cells outside the box keep ``y = 0``, so every solution is a certificate of
the whole cube. The objective is the weighted L1 norm of ``y``: a cell already
suppressed costs almost nothing, a free cell costs more the more margin codes it has
(the grand total most), so the shift spreads over small, low-level cells instead of
pulling in the high margins.
"""

from __future__ import annotations

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csc_matrix, hstack

from exchange.disclosure.cube import Axis, Cube

_ZERO = 1e-7  # a certificate entry below this is no shift at all
_REUSE = 0.01  # cost of shifting a cell that is already suppressed (per unit)


def levels(cube: Cube) -> np.ndarray:
    """Per flat cell, how many of its codes are margins (a total or a hierarchy parent)."""
    level = np.zeros(cube.shape, dtype=np.int64)
    for d, axis in enumerate(cube.axes):
        shape = [1] * len(cube.shape)
        shape[d] = cube.shape[d]
        level += (~axis.leaf & axis.occurs).astype(np.int64).reshape(shape)
    return level.reshape(-1)


def _positions(axis: Axis, a: int, line: np.ndarray, suppressed: np.ndarray,
               usable: np.ndarray, extra: int) -> np.ndarray:
    """One axis of the box: ``a``'s closure and ``extra`` good leaves with theirs.

    ``line``: the values of the cells on the axis through the primary; a leaf whose
    cell is already suppressed, shares ``a``'s parent, or holds more, is better.
    """
    chosen = set(axis.closure(a))
    if not axis.relations:
        return np.array(sorted(chosen), dtype=np.int64)
    leaves = np.flatnonzero(axis.leaf)
    if axis.leaf[a]:
        candidates = leaves[leaves != a]
    else:
        candidates = np.array(axis.leaves_under(a), dtype=np.int64)
    candidates = candidates[usable[candidates]] if candidates.size else candidates
    if extra is not None and candidates.size > extra:
        kin = axis.parent[candidates] == axis.parent[a]
        order = np.lexsort((candidates, -line[candidates], ~kin, ~suppressed[candidates]))
        candidates = candidates[order[:extra]]
    for q in candidates:
        chosen.update(axis.closure(int(q)))
    return np.array(sorted(chosen), dtype=np.int64)


def box(cube: Cube, cell: int, suppressed: np.ndarray, usable: np.ndarray,
        extra: int | None) -> list[np.ndarray]:
    """Per axis, the positions of the box around ``cell`` (``extra`` None: every leaf)."""
    coords = np.unravel_index(cell, cube.shape)
    out = []
    for d, axis in enumerate(cube.axes):
        a = int(coords[d])
        line = cell + (np.arange(cube.shape[d]) - a) * cube.strides[d]
        out.append(_positions(axis, a, cube.value[line], suppressed[line], usable[line], extra))
    return out


class BoxProgram:
    """The certificate LP of one box: variables ``u, v >= 0`` with ``y = u - v``."""

    def __init__(self, cube: Cube, positions: list[np.ndarray], cost: np.ndarray,
                 usable: np.ndarray) -> None:
        lens = tuple(len(p) for p in positions)
        grids = np.meshgrid(*positions, indexing="ij")
        self.cells = np.ravel_multi_index(tuple(g.ravel() for g in grids), cube.shape)
        n = self.cells.size
        local = np.arange(n).reshape(lens)
        rows, cols, coef, n_eq = [], [], [], 0
        for d, axis in enumerate(cube.axes):
            where = {int(p): i for i, p in enumerate(positions[d])}
            moved = np.moveaxis(local, d, -1).reshape(-1, lens[d])
            for parent, children in axis.relations:
                members = [(where[int(c)], -1.0) for c in children if int(c) in where]
                if parent in where:
                    members.append((where[parent], 1.0))
                if not members:
                    continue
                for i, s in members:
                    rows.append(np.arange(moved.shape[0]) + n_eq)
                    cols.append(moved[:, i])
                    coef.append(np.full(moved.shape[0], s))
                n_eq += moved.shape[0]
        a = coo_matrix((np.concatenate(coef), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(n_eq, n)).tocsc()
        matrix = csc_matrix(hstack([a, -a], format="csc"))
        free = usable[self.cells]
        self.value = cube.value[self.cells].astype(np.float64)
        self.upper = np.concatenate([np.where(free, highspy.kHighsInf, 0.0),
                                     np.where(free, self.value, 0.0)])
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 2 * n, n_eq
        c = cost[self.cells]
        lp.col_cost_ = np.concatenate([c, c])
        lp.col_lower_ = np.zeros(2 * n)
        lp.col_upper_ = self.upper.copy()
        lp.row_lower_ = np.zeros(n_eq)
        lp.row_upper_ = np.zeros(n_eq)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
        lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
        lp.a_matrix_.value_ = matrix.data
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = 2 * n, n_eq
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.passModel(lp)
        self.n = n
        self.fixed: list[int] = []

    def shift(self, cell: int, amount: float) -> np.ndarray | None:
        """A certificate moving ``cell`` by ``amount`` (signed), or None when the box has none."""
        j = int(np.searchsorted(self.cells, cell))  # the box's cells are in flat order
        for k in self.fixed:  # release the previous direction's fixing
            self.h.changeColBounds(k, 0.0, float(self.upper[k]))
        k = j if amount > 0 else j + self.n
        self.h.changeColBounds(k, abs(amount), abs(amount))
        other = j + self.n if amount > 0 else j
        self.h.changeColBounds(other, 0.0, 0.0)
        self.fixed = [k, other]
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(self.h.getSolution().col_value)
        y = x[:self.n] - x[self.n:]
        y[np.abs(y) < _ZERO] = 0.0
        return y
