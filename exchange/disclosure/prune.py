"""Drop complements that later ones made redundant (reverse delete over the hypercubes).

Suppression (:mod:`exchange.disclosure.suppression`) picks hypercubes greedily, one
primary at a time; a hypercube chosen later often certifies a cell that an earlier one
was chosen for. Each *requirement* (a cell and a direction: down by ``min(L, x)``, up by
``U``; a margin cell whose way down runs through its children requires only its way up,
and each of those children its way down to 0) stays certified by at least one kept
hypercube, whose corners all stay suppressed: the certificates of the greedy pass are
kept, only duplicates go. The hypercubes holding the largest counts (the high margins)
are tried first. The exact audit still proves the result.
"""

from __future__ import annotations

import numpy as np

_BIG = 2**60


def shifts(corners: np.ndarray, signs: np.ndarray, value: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """How far a hypercube moves each corner down and up (inf: no limit)."""
    vals = value[corners]
    pos_min = vals[signs > 0].min(initial=_BIG)
    neg_min = vals[signs < 0].min(initial=_BIG)
    same = np.where(signs > 0, pos_min, neg_min).astype(np.float64)
    other = np.where(signs > 0, neg_min, pos_min).astype(np.float64)
    same[same >= _BIG], other[other >= _BIG] = np.inf, np.inf
    return same, other


def prune(hypercubes: list[tuple[np.ndarray, np.ndarray]], need_down: np.ndarray,
          need_up: np.ndarray, value: np.ndarray) -> np.ndarray | None:
    """Which hypercubes to keep (a mask), or None when some requirement has none.

    ``need_down`` / ``need_up``: per flat cell, the shift it requires (0: none).
    """
    covers = []
    for corners, signs in hypercubes:
        same, other = shifts(corners, signs, value)
        down = (need_down[corners] > 0) & (same >= need_down[corners])
        up = (need_up[corners] > 0) & (other >= need_up[corners])
        covers.append(np.concatenate([2 * corners[down], 2 * corners[up] + 1]))
    size = 2 * value.size
    count = (np.bincount(np.concatenate(covers), minlength=size) if covers
             else np.zeros(size, dtype=np.int64))
    required = np.concatenate([2 * np.flatnonzero(need_down > 0),
                               2 * np.flatnonzero(need_up > 0) + 1])
    if (count[required] == 0).any():
        return None
    weight = [-int(value[corners].sum()) for corners, _ in hypercubes]
    kept = np.ones(len(hypercubes), dtype=bool)
    for h in np.argsort(weight, kind="stable"):  # the largest counts first
        if (count[covers[h]] >= 2).all():
            count[covers[h]] -= 1
            kept[h] = False
    return kept
