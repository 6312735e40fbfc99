"""The attacker's equations: suppressed cells, the margins over them, their components.

Published cells are constants, so only the margin equations that contain a suppressed
cell remain (``A x = b`` over the suppressed cells, ``x >= 0``). Cells linked by no
chain of such equations are independent: each connected group is its own, usually
small, linear program (:func:`components`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from exchange.disclosure.cube import Cube


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


@dataclass(frozen=True)
class Component:
    """One independent group of suppressed cells and the equations over them.

    ``cells``: positions among the cube's suppressed cells; ``a, b``: the spanning
    equations (what the solver gets); ``full``: every equation (what each solution must
    meet).
    """

    cells: np.ndarray
    a: csr_matrix
    b: np.ndarray
    full: tuple[csr_matrix, np.ndarray]


def components(cube: Cube) -> tuple[np.ndarray, list[Component]]:
    """The cube's suppressed cells (flat positions) and their independent components.

    Variables and equations are permuted once so that each component is a contiguous
    block (slicing per component stays proportional to the component, not the cube).
    """
    hidden, a, b = cube_system(cube)
    n = hidden.size
    if n == 0:
        return hidden, []
    _, span, b_span = cube_system(cube, spanning=True)
    coo = a.tocoo()
    graph = coo_matrix((np.ones(coo.nnz), (coo.row + n, coo.col)),
                       shape=(n + a.shape[0], n + a.shape[0]))
    count, label = connected_components(graph, directed=False)
    var_label = label[:n]
    order = np.argsort(var_label, kind="stable")
    var_start = np.searchsorted(var_label[order], np.arange(count + 1))
    full, b_full, full_start = _grouped(a, b, order, var_label, count)
    spanning, b_spanning, span_start = _grouped(span, b_span, order, var_label, count)
    parts = []
    for c in range(count):
        c0, c1 = var_start[c], var_start[c + 1]
        f0, f1 = full_start[c], full_start[c + 1]
        s0, s1 = span_start[c], span_start[c + 1]
        parts.append(Component(
            cells=order[c0:c1], a=spanning[s0:s1, c0:c1], b=b_spanning[s0:s1],
            full=(full[f0:f1, c0:c1], b_full[f0:f1])))
    return hidden, parts


def _grouped(a: csr_matrix, b: np.ndarray, order: np.ndarray, var_label: np.ndarray,
             count: int) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
    """``a`` with columns in ``order`` and rows grouped by component; each group's start."""
    where = np.empty_like(order)
    where[order] = np.arange(order.size)
    coo = a.tocoo()
    row_label = np.zeros(a.shape[0], dtype=np.int64)
    row_label[coo.row] = var_label[coo.col]
    row_order = np.argsort(row_label, kind="stable")
    row_where = np.empty_like(row_order)
    row_where[row_order] = np.arange(row_order.size)
    grouped = coo_matrix((coo.data, (row_where[coo.row], where[coo.col])), shape=a.shape).tocsr()
    start = np.searchsorted(row_label[row_order], np.arange(count + 1))
    return grouped, b[row_order], start
