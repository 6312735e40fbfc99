"""The audit's spanning margin system: same solutions as the full one, never trusted blindly."""

from __future__ import annotations

import numpy as np
import pytest

from exchange.disclosure.attack import cube_intervals, cube_system
from exchange.disclosure.cube import Cube, split_cubes
from exchange.errors import DisclosureError
from tests.unit.test_disclosure_tables import rules_for, table_with_margins


def _hidden_cube(base: np.ndarray, every: int) -> Cube:
    table = table_with_margins(base)
    cube = next(split_cubes(table, rules_for(base.ndim)))
    known = ~cube.present | (np.arange(cube.row.size) % every != 0)
    return Cube(shape=cube.shape, axes=cube.axes, row=cube.row, value=cube.value.copy(),
                known=known, pinned=cube.pinned)


@pytest.mark.parametrize("every", [1, 2, 3])
def test_spanning_equations_have_the_full_rank(every):
    base = np.random.default_rng(every).integers(0, 9, size=(3, 4, 3))
    cube = _hidden_cube(base, every)
    _, full, _ = cube_system(cube)
    _, spanning, _ = cube_system(cube, spanning=True)
    assert spanning.shape[0] < full.shape[0]
    assert np.linalg.matrix_rank(spanning.toarray()) == np.linalg.matrix_rank(full.toarray())


def test_a_table_breaking_a_dropped_equation_is_refused():
    cube = _hidden_cube(np.random.default_rng(5).integers(1, 9, size=(3, 3)), 1)
    at = lambda i, j: i * cube.shape[1] + j  # noqa: E731
    last = cube.shape[0] - 1  # the _T position of both axes
    cube.known[:] = True
    cube.known[[at(0, 0), at(0, last), at(last, 0), at(last, last)]] = False
    cube.value[at(last, 1)] += 1  # breaks only the row-total equation of the _T row,
    with pytest.raises(DisclosureError, match="contradict"):  # which the solver drops
        list(cube_intervals(cube))
