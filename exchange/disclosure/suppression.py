"""Primary and secondary cell suppression on one cube (the hypercube method).

Primary: every cell with ``0 < count < minimumCellSize`` (margins included).

Secondary: for each suppressed cell not yet protected, choose a hypercube with the cell
as one corner and one other position per axis (another code, or the total). Shifting
all 2^d corners by ``+t`` / ``-t`` (sign flips between two codes, stays between a code
and its total) keeps every margin relation true, so an attacker who sees the published
cells and all margins cannot tell the true table from the shifted one. With all
corners suppressed, every corner's feasible interval is at least
``min(+ corners) + min(- corners)`` wide (non-negativity bounds ``t``). Among the
hypercubes wide enough (>= protectionInterval), the one adding the fewest new
suppressions, then the smallest suppressed total, wins (ties: lowest position), so
the result is deterministic. Zero cells and absent rows are never corners (they are
published). Suppressing more cells only widens intervals, so each chosen hypercube
stays a valid certificate for its corners in the final pattern; the LP audit
(:mod:`exchange.disclosure.audit`) checks the result independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from exchange.disclosure.cube import Cube

FREE, PRIMARY, SECONDARY = 0, 1, 2
_CANDIDATE_BUDGET = 256  # hypercubes examined per cell, split evenly across axes
_BIG = 2**60  # stands for 'no corner of this sign': unbounded in that direction


@dataclass
class Suppression:
    """Status per flat cell (FREE / PRIMARY / SECONDARY) and the certified width."""

    status: np.ndarray
    width: np.ndarray


def suppress(cube: Cube, minimum: int, interval: int) -> Suppression:
    """Suppress the cube's sensitive cells and enough complements to protect them."""
    value, present = cube.value, cube.present
    status = np.zeros(value.size, dtype=np.int8)
    status[present & (value > 0) & (value < minimum)] = PRIMARY
    width = np.zeros(value.size, dtype=np.float64)
    need = max(interval, 1)
    usable = present & (value > 0)
    primaries = np.flatnonzero(status == PRIMARY)
    n_totals = sum((np.unravel_index(primaries, cube.shape)[d] == s - 1)
                   for d, s in enumerate(cube.shape)) if primaries.size else primaries
    for cell in primaries[np.lexsort((primaries, value[primaries], -np.asarray(n_totals)))]:
        if width[cell] >= need:
            continue
        corners, cube_width = _best_hypercube(cube, int(cell), status, usable, need)
        if corners is None:  # no hypercube: withhold the whole group (always safe)
            corners, cube_width = np.flatnonzero(usable), np.inf
        status[corners[status[corners] == FREE]] = SECONDARY
        width[corners] = np.maximum(width[corners], cube_width)
    return Suppression(status=status, width=width)


def _candidates(cube: Cube, cell: int, coords: tuple[int, ...], axes: list[int],
                status: np.ndarray, usable: np.ndarray, need: int,
                limit: int) -> list[np.ndarray]:
    """The most promising other positions along each axis for a hypercube through ``cell``.

    Ranked: the total first (always feasible), then cells already suppressed, then
    cells wide enough on their own, smallest first; at most ``limit`` per axis.
    """
    axis_of = np.concatenate([np.full(cube.shape[d], i) for i, d in enumerate(axes)])
    position = np.concatenate([np.arange(cube.shape[d]) for d in axes])
    here = np.array([coords[d] for d in axes])[axis_of]
    last = np.array([cube.shape[d] - 1 for d in axes])[axis_of]
    stride = np.array([cube.strides[d] for d in axes])[axis_of]
    neighbours = cell + (position - here) * stride
    # a total pairs with its codes only, a code with any other position
    keep = usable[neighbours] & (position != here)
    axis_of, position, last, neighbours = (axis_of[keep], position[keep], last[keep],
                                           neighbours[keep])
    value = cube.value[neighbours]
    order = np.lexsort((position, value, value < need, status[neighbours] == FREE,
                        position != last, axis_of))
    axis_of, position = axis_of[order], position[order]
    starts = np.searchsorted(axis_of, np.arange(len(axes) + 1))
    return [position[starts[i]:min(starts[i] + limit, starts[i + 1])] for i in range(len(axes))]


@lru_cache(maxsize=256)
def _layout(lengths: tuple[int, ...]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Per-axis candidate index of every combination, and the 2^axes corner patterns."""
    combos = np.unravel_index(np.arange(int(np.prod(lengths))), lengths)
    patterns = (np.arange(2 ** len(lengths))[:, None] >> np.arange(len(lengths))) & 1
    return combos, patterns


def _best_hypercube(cube: Cube, cell: int, status: np.ndarray, usable: np.ndarray,
                    need: int) -> tuple[np.ndarray | None, float]:
    coords = np.unravel_index(cell, cube.shape)
    axes = [d for d, has in enumerate(cube.has_total) if has]
    if not axes:
        return None, 0.0
    limit = max(2, int(_CANDIDATE_BUDGET ** (1 / len(axes))))
    cands = _candidates(cube, cell, coords, axes, status, usable, need, limit)
    if any(c.size == 0 for c in cands):
        return None, 0.0
    combos, patterns = _layout(tuple(len(c) for c in cands))
    offs = np.empty((len(axes), combos[0].size), dtype=np.int64)
    flip = np.empty_like(offs)
    for i, (d, cand) in enumerate(zip(axes, cands, strict=True)):
        chosen = cand[combos[i]]
        offs[i] = (chosen - coords[d]) * cube.strides[d]
        last = cube.shape[d] - 1
        flip[i] = (chosen != last) & (coords[d] != last)  # two codes: the sign flips
    corners = cell + patterns @ offs  # (2^axes, combos)
    negative = (patterns @ flip) % 2 == 1
    vals = cube.value[corners]
    valid = usable[corners].all(axis=0)
    cube_width = (np.where(negative, _BIG, vals).min(axis=0)
                  + np.where(negative, vals, _BIG).min(axis=0))
    feasible = np.flatnonzero(valid & (cube_width >= need))
    if feasible.size == 0:
        return None, 0.0
    new = status[corners[:, feasible]] == FREE
    n_new = new.sum(axis=0)
    new_total = (vals[:, feasible] * new).sum(axis=0)
    best = feasible[np.lexsort((feasible, new_total, n_new))[0]]
    width = cube_width[best]
    return corners[:, best], (np.inf if width >= _BIG else float(width))
