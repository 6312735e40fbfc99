"""Reverse delete over the greedy pass's hypercubes (exchange/disclosure/prune.py)."""

from __future__ import annotations

import numpy as np

from exchange.disclosure.prune import prune, shifts

# a 2 x 2 table with its margins, flat: [a, b, a+b; c, d, c+d; a+c, b+d, total]
VALUE = np.array([3, 9, 12, 8, 6, 14, 11, 15, 26])
SWAP = (np.array([0, 1, 3, 4]), np.array([1, -1, -1, 1]))  # a, b, c, d: +t/-t
TO_MARGINS = (np.array([0, 2, 6, 8]), np.array([1, 1, 1, 1]))  # a with its margins
NEED_DOWN = np.zeros(9, dtype=np.int64)
NEED_UP = np.zeros(9, dtype=np.int64)
NEED_DOWN[0], NEED_UP[0] = 3, 5


def test_shifts_are_limited_by_the_smallest_corner_of_each_sign():
    same, other = shifts(*SWAP, VALUE)
    assert same.tolist() == [3, 8, 8, 3]  # a and d go down by min(a, d), b and c by min(b, c)
    assert other.tolist() == [8, 3, 3, 8]
    same, other = shifts(*TO_MARGINS, VALUE)
    assert np.isinf(other).all()  # no corner of the other sign: up without limit


def test_a_hypercube_whose_requirements_another_one_also_meets_is_dropped():
    kept = prune([TO_MARGINS, SWAP, SWAP], NEED_DOWN, NEED_UP, VALUE)
    assert kept is not None
    assert kept.tolist() == [False, False, True]  # the margins go first; one swap stays


def test_a_hypercube_that_alone_meets_a_requirement_is_kept():
    need_up = NEED_UP.copy()
    need_up[0] = 9  # the swap moves a up by 8 only: the margins' hypercube must stay
    kept = prune([TO_MARGINS, SWAP], NEED_DOWN, need_up, VALUE)
    assert kept is not None and kept.tolist() == [True, False]  # it also takes a down


def test_nothing_is_dropped_when_a_requirement_has_no_hypercube():
    need_down = NEED_DOWN.copy()
    need_down[4] = 9  # d can go down by 3 at most
    assert prune([SWAP], need_down, NEED_UP, VALUE) is None
