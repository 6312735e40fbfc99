"""Primary and secondary cell suppression on one cube (generalised hypercubes).

Primary: every cell with ``0 < count < minimumCellSize`` (margins included).

Secondary: along each axis with margins, a *move* through position ``a`` is a signed
set of positions that keeps every margin relation of that axis true: the closure of a
leaf under ``a`` (the leaf, its parents, the total), or that closure minus the closure
of a leaf outside ``a``'s branch. The tensor product of one move per axis is a
hypercube: shifting its corners by ``+t`` / ``-t`` (their signs) keeps every margin
true, so an attacker who sees every other cell cannot rule the shifted table out. A
primary cell of value ``x`` is protected by protection levels (L, U) when the shift can
take it down by ``min(L, x)`` (every corner of its sign holds at least that much) and up
by ``U`` (every corner of the other sign holds at least ``U``); one hypercube may give
both directions, or two hypercubes one each. Zero cells may be corners (zeros are
protectable); cells an earlier release published unchanged may not. Among the
hypercubes that work, the one adding the fewest new suppressions, then the smallest
suppressed total, wins (ties: first found), so the result is deterministic. Suppressing
more cells only widens the attacker's intervals, so each hypercube stays a certificate;
the exact LP audit (:mod:`exchange.disclosure.attack`) checks the result independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from exchange.disclosure.cube import Axis, Cube

FREE, PRIMARY, SECONDARY = 0, 1, 2
_BUDGET = 8192  # corners x hypercubes examined per cell
_BIG = 2**60  # stands for 'no corner of this sign': unbounded in that direction


@dataclass
class Suppression:
    """Status per flat cell (FREE / PRIMARY / SECONDARY) and the certified shifts."""

    status: np.ndarray
    up: np.ndarray
    down: np.ndarray


def _moves(axis: Axis) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per position: its moves as padded (moves, width) arrays of positions and signs."""
    out = []
    closures = {int(q): axis.closure(int(q)) for q in np.flatnonzero(axis.leaf)}
    for a in range(len(axis.codes)):
        under = [q for q, chain in closures.items() if a in chain] if axis.occurs[a] else []
        outside = [q for q in closures if q not in under]
        moves = []
        for q in under:
            moves.append({p: 1 for p in closures[q]})
            for r in outside:
                coef = {p: 1 for p in closures[q]}
                for p in closures[r]:
                    coef[p] = coef.get(p, 0) - 1
                moves.append({p: c for p, c in coef.items() if c})
        width = max((len(m) for m in moves), default=1)
        pos = np.full((len(moves), width), a, dtype=np.int64)
        sgn = np.zeros((len(moves), width), dtype=np.int64)
        for i, m in enumerate(moves):
            ordered = sorted(m, key=lambda p: p != a)  # the position itself first
            pos[i, :len(m)] = ordered
            sgn[i, :len(m)] = [m[p] for p in ordered]
        out.append((pos, sgn))
    return out


def suppress(cube: Cube, minimum: int, lower: int, upper: int,
             status: np.ndarray | None = None) -> Suppression:
    """Suppress the cube's sensitive cells and enough complements to protect them.

    ``status`` (optional) holds suppressions already decided (e.g. a previous round).
    """
    value = cube.value
    usable = cube.present & ~cube.pinned
    if status is None:
        status = np.zeros(value.size, dtype=np.int8)
        status[cube.present & (value > 0) & (value < minimum)] = PRIMARY
    up = np.zeros(value.size, dtype=np.float64)
    down = np.zeros(value.size, dtype=np.float64)
    axes = [d for d, axis in enumerate(cube.axes) if axis.relations]
    moves = {d: _moves(cube.axes[d]) for d in axes}
    primaries = np.flatnonzero(status == PRIMARY)
    coords = np.unravel_index(primaries, cube.shape)
    n_margins = sum((~cube.axes[d].leaf[coords[d]]) for d in axes) if axes else 0
    order = np.lexsort((primaries, value[primaries], -np.asarray(n_margins)))
    demands = [(int(c), min(lower, int(value[c])), upper) for c in primaries[order][::-1]]
    while demands:
        cell, need_down, need_up = demands.pop()
        if up[cell] >= need_up and down[cell] >= need_down:
            continue
        chosen = _best_hypercubes(cube, cell, axes, moves, status, usable, need_down, need_up)
        if chosen is None:  # no hypercube: withhold every usable cell of the cube
            status[usable & (status == FREE)] = SECONDARY
            up[usable], down[usable] = np.inf, np.inf
            break
        hypercubes, down_done = chosen
        for corners, signs in hypercubes:
            _certify(corners, signs, value, status, up, down)
        if not down_done:  # a margin spread over its children: take each child to 0
            demands.extend((child, int(value[child]), 0)
                           for child in _children(cube, cell, axes) if value[child] > 0)
    return Suppression(status=status, up=up, down=down)


def _certify(corners: np.ndarray, signs: np.ndarray, value: np.ndarray, status: np.ndarray,
             up: np.ndarray, down: np.ndarray) -> None:
    """Suppress a hypercube's corners and record how far each can be shifted each way."""
    status[corners[status[corners] == FREE]] = SECONDARY
    vals = value[corners]
    pos_min = vals[signs > 0].min(initial=_BIG)
    neg_min = vals[signs < 0].min(initial=_BIG)
    same = np.where(signs > 0, pos_min, neg_min).astype(np.float64)
    other = np.where(signs > 0, neg_min, pos_min).astype(np.float64)
    same[same >= _BIG], other[other >= _BIG] = np.inf, np.inf
    down[corners] = np.maximum(down[corners], same)
    up[corners] = np.maximum(up[corners], other)


def _children(cube: Cube, cell: int, axes: list[int]) -> np.ndarray:
    """The cells a margin cell sums, along its axis with the fewest nonzero children."""
    coords = np.unravel_index(cell, cube.shape)
    best = np.zeros(0, dtype=np.int64)
    for d in axes:
        for parent, children in cube.axes[d].relations:
            if parent != coords[d]:
                continue
            cells = cell + (children - parent) * cube.strides[d]
            cells = cells[cube.value[cells] > 0]
            if best.size == 0 or cells.size < best.size:
                best = cells
    return best


@lru_cache(maxsize=512)
def _layout(lengths: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Per-axis index of every combination of ``lengths``."""
    return np.unravel_index(np.arange(int(np.prod(lengths))), lengths)


def _ranked(cube: Cube, cell: int, d: int, pos: np.ndarray, sgn: np.ndarray, a: int,
            status: np.ndarray, usable: np.ndarray, need: int, margins_first: bool) -> np.ndarray:
    """Moves of axis ``d`` whose cells are all usable, most promising first.

    Cheapest first (fewest new suppressions, fewest cells); ``margins_first`` puts the
    moves towards the margins (all one sign, unbounded upwards) ahead of the rest.
    """
    neighbours = cell + (pos - a) * cube.strides[d]
    real = sgn != 0
    ok = np.where(real, usable[neighbours], True).all(axis=1)
    free = (real & (status[neighbours] == FREE)).sum(axis=1)
    small = (real & (cube.value[neighbours] < need)).sum(axis=1)
    total = np.where(real, cube.value[neighbours], 0).sum(axis=1)
    closure = (sgn >= 0).all(axis=1)  # towards the margins: always feasible upwards
    keys = (np.arange(len(pos)), total, small, ~closure, real.sum(axis=1), free)
    order = np.lexsort((*keys, ~closure) if margins_first else keys)
    return order[ok[order]]


def _best_hypercubes(cube: Cube, cell: int, axes: list[int], moves: dict, status: np.ndarray,
                     usable: np.ndarray, need_down: int, need_up: int):
    """One hypercube giving both shifts, else one per direction; None when none exists.

    Returns ``(hypercubes, down_done)``: ``down_done`` False when only the upward shift
    was found for a margin cell (its children must then be taken down one by one).
    """
    if not axes:
        return None
    partial = None
    for margins_first in (False, True):
        found = _search(cube, cell, axes, moves, status, usable, need_down, need_up,
                        margins_first)
        if found is not None and found[1]:
            return found
        partial = partial or found
    return partial


def _search(cube: Cube, cell: int, axes: list[int], moves: dict, status: np.ndarray,
            usable: np.ndarray, need_down: int, need_up: int, margins_first: bool):
    coords = np.unravel_index(cell, cube.shape)
    ranked = []
    for d in axes:
        pos, sgn = moves[d][coords[d]]
        order = _ranked(cube, cell, d, pos, sgn, coords[d], status, usable, need_up,
                        margins_first)
        if order.size == 0:
            return None
        ranked.append((pos[order], sgn[order]))
    # widest move among the first t moves of each axis (index t - 1)
    widest = [np.maximum.accumulate((s != 0).sum(axis=1)).tolist() for _, s in ranked]
    limits = [1] * len(axes)
    while True:  # widen the search round-robin while the budget allows
        grown = False
        for i in range(len(axes)):
            if limits[i] == len(widest[i]):
                continue
            trial = limits.copy()
            trial[i] += 1
            size = 1
            for j, t in enumerate(trial):
                size *= widest[j][t - 1] * t
            if size <= _BUDGET:
                limits, grown = trial, True
        if not grown:
            break
    pos = [ranked[i][0][:limits[i]] for i in range(len(axes))]
    sgn = [ranked[i][1][:limits[i]] for i in range(len(axes))]
    widths = tuple(int((s != 0).sum(axis=1).max()) for s in sgn)
    combos = _layout(tuple(limits))
    pattern = _layout(widths)
    flat = np.full((len(pattern[0]), len(combos[0])), cell, dtype=np.int64)
    sign = np.ones_like(flat)
    for i, d in enumerate(axes):
        p = pos[i][:, :widths[i]][combos[i]][:, pattern[i]].T  # (patterns, combos)
        s = sgn[i][:, :widths[i]][combos[i]][:, pattern[i]].T
        flat += (p - coords[d]) * cube.strides[d]
        sign *= s
    real = sign != 0
    vals = cube.value[flat]
    valid = np.where(real, usable[flat], True).all(axis=0)
    up = np.where(real & (sign < 0), vals, _BIG).min(axis=0)
    down = np.where(real & (sign > 0), vals, _BIG).min(axis=0)
    new = real & (status[flat] == FREE)
    cost = np.lexsort((np.arange(flat.shape[1]), (vals * new).sum(axis=0), new.sum(axis=0)))

    def best(mask):
        hits = cost[mask[cost]]
        if hits.size == 0:
            return None
        j = hits[0]
        return flat[real[:, j], j], sign[real[:, j], j]

    both = best(valid & (up >= need_up) & (down >= need_down))
    if both is not None:
        return [both], True
    upward, downward = best(valid & (up >= need_up)), best(valid & (down >= need_down))
    if upward is None:
        return None
    if downward is None:  # a margin cell: its children will carry the way down
        return ([upward], False) if _is_margin(cube, coords, axes) else None
    return [upward, downward], True


def _is_margin(cube: Cube, coords: tuple, axes: list[int]) -> bool:
    return any(not cube.axes[d].leaf[coords[d]] for d in axes)
