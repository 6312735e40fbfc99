"""A frequency table seen as dense hypercubes, one per group of constant keys.

Each classification column listed in ``disclosure.dimensions`` is an axis; its codes
take the first positions and the total code (``_T``) the last one, so the margin
relation along axis ``d`` reads ``cube[..., -1, ...] == cube[..., :-1, ...].sum()``.
Every other non-status column (e.g. the period) is a grouping key: each group is
protected as its own table. Rows absent from the table are known zeros.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.rules import DisclosureRules
from exchange.errors import DisclosureError

STATUS_COLUMNS = ("OBS_STATUS", "CONF_STATUS")


@dataclass
class Cube:
    """One group's cells: ``row`` (table row or -1 when absent) and ``value`` per cell."""

    shape: tuple[int, ...]
    has_total: tuple[bool, ...]
    row: np.ndarray
    value: np.ndarray
    known: np.ndarray

    def __post_init__(self) -> None:
        steps = [1]
        for size in reversed(self.shape[1:]):
            steps.insert(0, steps[0] * size)
        self.strides = tuple(steps)  # flat-index step of one position along each axis

    @property
    def present(self) -> np.ndarray:
        return self.row >= 0

    def relations(self, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices of (totals, children) along ``axis``; children shaped (n, codes).

        A relation holds when its total row is present. An absent detail row is a known
        zero; an absent margin row is unpublished, so a relation over margins that
        misses one of them is not one the attacker (or the check) can use.
        """
        flat = np.arange(self.row.size).reshape(self.shape)
        moved = np.moveaxis(flat, axis, -1).reshape(-1, self.shape[axis])
        totals, children = moved[:, -1], moved[:, :-1]
        coords = np.unravel_index(totals, self.shape)
        over_margins = np.zeros(totals.size, dtype=bool)
        for d, size in enumerate(self.shape):
            if d != axis:
                over_margins |= coords[d] == size - 1
        complete = (self.row[children] >= 0).all(axis=1)
        keep = (self.row[totals] >= 0) & (~over_margins | complete)
        return totals[keep], children[keep]


def grouping_columns(table: pa.Table, rules: DisclosureRules) -> list[str]:
    """Columns that are neither count, dimension nor SDMX status: constant group keys."""
    skip = {rules.count_column, *rules.dimensions, *STATUS_COLUMNS}
    return [name for name in table.column_names if name not in skip]


def _codes(column: pa.ChunkedArray, name: str) -> tuple[np.ndarray, list]:
    if column.null_count:
        raise DisclosureError(f"column {name}: {column.null_count} empty value(s)",
                              hint="every classification and key column needs a code; "
                                   "use the SDMX code for unknown (e.g. _U)")
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()


def _check_columns(table: pa.Table, rules: DisclosureRules) -> None:
    for name in (rules.count_column, *rules.dimensions):
        if name not in table.column_names:
            raise DisclosureError(
                f"dataset has no column {name} (named by the contract's disclosure rules)",
                hint="fix disclosure.countColumn / disclosure.dimensions or the dataset")
    count_type = table.schema.field(rules.count_column).type
    if not pa.types.is_integer(count_type):
        raise DisclosureError(f"column {rules.count_column}: counts must be integers, "
                              f"found {count_type}", hint="cast the count column to int64")


def split_cubes(table: pa.Table, rules: DisclosureRules, *,
                allow_unknown: bool = False) -> Iterator[Cube]:
    """Yield one dense cube per group; ``allow_unknown`` accepts null (suppressed) counts."""
    _check_columns(table, rules)
    counts = table.column(rules.count_column)
    known = ~np.asarray(counts.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if not allow_unknown and not known.all():
        raise DisclosureError(
            f"column {rules.count_column}: {int((~known).sum())} empty count(s) before "
            "protection", hint="protect the complete table; suppression adds the nulls")
    values = counts.fill_null(0).to_numpy().astype(np.int64)
    if (values < 0).any():
        raise DisclosureError(f"column {rules.count_column}: negative counts",
                              hint="counts of people are 0 or more")
    axes = []
    for name in rules.dimensions:
        idx, dictionary = _codes(table.column(name), name)
        codes = [c for c in dictionary if c != rules.total_code]
        order = sorted(range(len(dictionary)),
                       key=lambda i: (dictionary[i] == rules.total_code, str(dictionary[i])))
        position = np.empty(len(dictionary), dtype=np.int64)
        position[order] = np.arange(len(dictionary))
        size = len(codes) + 1  # the last slot is the total, present or not
        axes.append((position[idx], size))
    keys = grouping_columns(table, rules)
    if keys:
        group_codes = np.stack([_codes(table.column(k), k)[0] for k in keys], axis=1)
        _, group = np.unique(group_codes, axis=0, return_inverse=True)
        group = group.reshape(-1)
    else:
        group = np.zeros(table.num_rows, dtype=np.int64)
    shape = tuple(size for _, size in axes)
    flat = np.ravel_multi_index(tuple(pos for pos, _ in axes), shape) if axes else \
        np.zeros(table.num_rows, dtype=np.int64)
    rows_by_group = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[rows_by_group])) + 1
    for rows in np.split(rows_by_group, bounds) if table.num_rows else []:
        yield _cube(rows, flat[rows], values[rows], known[rows], shape, axes)


def _cube(rows, cells, values, known, shape, axes) -> Cube:
    size = int(np.prod(shape))
    if np.unique(cells).size != cells.size:
        raise DisclosureError("dataset has two rows for the same cell (same keys and codes)",
                              hint="aggregate the table so each combination appears once")
    row = np.full(size, -1, dtype=np.int64)
    value = np.zeros(size, dtype=np.int64)
    is_known = np.ones(size, dtype=bool)
    row[cells], value[cells], is_known[cells] = rows, values, known
    unraveled = np.unravel_index(cells, shape)
    has_total = tuple(bool((unraveled[d] == s - 1).any()) for d, (_, s) in enumerate(axes))
    return Cube(shape=shape, has_total=has_total, row=row, value=value, known=is_known)


def check_margins(cube: Cube, rules: DisclosureRules) -> None:
    """Raise when a margin row is not the sum of the cells it totals."""
    for axis, has_total in enumerate(cube.has_total):
        if not has_total:
            continue
        totals, children = cube.relations(axis)
        if (cube.value[children].sum(axis=1) != cube.value[totals]).any():
            raise DisclosureError(
                f"column {rules.count_column}: a {rules.total_code} row of "
                f"{rules.dimensions[axis]} is not the sum of its cells",
                hint="margins must add up exactly, or the table cannot be protected "
                     "against recomputation")
