"""Secondary suppression by per-primary LP certificates (see complement.py)."""

from __future__ import annotations

import numpy as np

from exchange.disclosure.complement import BoxProgram, box, levels
from exchange.disclosure.cube import Cube

LVL = 1
FREE, PRIMARY, SECONDARY = 0, 1, 2


def record(y: np.ndarray, cells: np.ndarray, value: np.ndarray, up: np.ndarray,
           down: np.ndarray) -> None:
    """Record how far each cell of a certificate's support can move each way."""
    moved = y != 0
    y, cells = y[moved], cells[moved]
    x = value[cells].astype(np.float64)
    neg, pos = y < 0, y > 0
    s_pos = (x[neg] / -y[neg]).min(initial=np.inf)  # y scaled by s in [-s_neg, s_pos]
    s_neg = (x[pos] / y[pos]).min(initial=np.inf)
    a = np.abs(y)
    with np.errstate(invalid="ignore"):
        along = s_pos * a
        against = s_neg * a
    up[cells] = np.maximum(up[cells], np.where(pos, along, against))
    down[cells] = np.maximum(down[cells], np.where(pos, against, along))


def suppress_boxes(cube: Cube, minimum: int, lower: int, upper: int, extra: int = 1,
                   weight=None):
    value = cube.value
    usable = cube.present & ~cube.pinned
    status = np.zeros(value.size, dtype=np.int8)
    status[cube.present & (value > 0) & (value < minimum)] = PRIMARY
    up = np.zeros(value.size)
    down = np.zeros(value.size)
    level = levels(cube)
    base = (1.0 + level) ** 2 if weight is None else weight(level, value)
    primaries = np.flatnonzero(status == PRIMARY)
    order = np.lexsort((primaries, value[primaries], LVL * level[primaries]))
    solves = 0
    for cell in primaries[order]:
        need_down, need_up = min(lower, int(value[cell])), upper
        if up[cell] >= need_up - 1e-9 and down[cell] >= need_down - 1e-9:
            continue
        cost = np.where(status != FREE, 0.01, base)
        for ex in (extra, 3, None):
            prog = BoxProgram(cube, box(cube, cell, status != FREE, usable, ex), cost, usable)
            ok = True
            for amount, have in ((need_up, up), (-need_down, down)):
                if have[cell] >= abs(amount) - 1e-9:
                    continue
                y = prog.shift(cell, amount)
                solves += 1
                if y is None:
                    ok = False
                    break
                support = prog.cells[y != 0]
                status[support[status[support] == FREE]] = SECONDARY
                record(y, prog.cells, value, up, down)
            if ok:
                break
        else:
            status[usable & (status == FREE)] = SECONDARY
            break
    return status, solves


def suppress_full(cube: Cube, minimum: int, lower: int, upper: int, weight=None):
    value = cube.value
    usable = cube.present & ~cube.pinned
    status = np.zeros(value.size, dtype=np.int8)
    status[cube.present & (value > 0) & (value < minimum)] = PRIMARY
    up = np.zeros(value.size)
    down = np.zeros(value.size)
    level = levels(cube)
    base = (1.0 + level) ** 2 if weight is None else weight(level, value)
    primaries = np.flatnonzero(status == PRIMARY)
    order = np.lexsort((primaries, value[primaries], LVL * level[primaries]))
    cost = np.where(status != FREE, 0.01, base)
    prog = BoxProgram(cube, [np.flatnonzero(ax.occurs) for ax in cube.axes], cost, usable)
    assert prog.n == value.size or True
    solves = 0
    for cell in primaries[order]:
        need_down, need_up = min(lower, int(value[cell])), upper
        for amount, have in ((need_up, up), (-need_down, down)):
            if have[cell] >= abs(amount) - 1e-9:
                continue
            y = prog.shift(cell, amount)
            solves += 1
            if y is None:
                raise RuntimeError("no certificate")
            support = prog.cells[y != 0]
            new = support[status[support] == FREE]
            status[new] = SECONDARY
            record(y, prog.cells, value, up, down)
            if new.size:
                idx = np.searchsorted(prog.cells, new).astype(np.int32)
                n = prog.n
                both = np.concatenate([idx, idx + n]).astype(np.int32)
                prog.h.changeColsCost(both.size, both, np.full(both.size, 0.01))
    return status, solves
