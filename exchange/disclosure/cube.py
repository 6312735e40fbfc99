"""A frequency table seen as dense hypercubes, one per group of constant keys.

Each classification column listed in ``disclosure.dimensions`` is an axis; its codes
take the first positions (sorted) and the total code (``_T``) the last one. Every other
non-status column (e.g. the period) is a grouping key: each group is one cube,
protected on its own.

The cube is complete (docs/disclosure.md, rule 1): every combination of the codes that
occur in it is a cell, and a combination missing from the input is a 0 that is
published (it is not a row, so it cannot be suppressed). The margins the attacker knows
(:class:`Axis`): ``_T`` is the sum of the leaf codes; a hierarchy parent (the rules'
``subtotals``) that occurs is the sum of its children that occur.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.rules import DisclosureRules
from exchange.errors import DisclosureError

STATUS_COLUMNS = ("OBS_STATUS", "CONF_STATUS")


@dataclass
class Axis:
    """One dimension in one cube: which codes occur, which are leaves, the margin relations.

    ``relations``: ``(parent position, child positions)``; ``parent``: the position of
    each position's parent in this cube (the total for a leaf with no parent, -1 for none).
    """

    codes: list
    occurs: np.ndarray
    leaf: np.ndarray
    parent: np.ndarray
    relations: list[tuple[int, np.ndarray]]

    def closure(self, leaf: int) -> list[int]:
        """The leaf and every position whose margin it enters (parents up to the total)."""
        chain = [leaf]
        while self.parent[chain[-1]] >= 0:
            chain.append(int(self.parent[chain[-1]]))
        return chain

    def leaves_under(self, position: int) -> list[int]:
        """Leaves whose closure passes through ``position``."""
        return [int(q) for q in np.flatnonzero(self.leaf) if position in self.closure(int(q))]


def build_axis(codes: list, occurs: np.ndarray, total_code: str,
               tree: Mapping[str, Sequence[str]]) -> Axis:
    """The margin structure of one dimension given the codes that occur in the cube."""
    where = {code: i for i, code in enumerate(codes)}
    occurring = {c for c, o in zip(codes, occurs, strict=True) if o}
    leaf = np.array([o and c != total_code and c not in tree
                     for c, o in zip(codes, occurs, strict=True)], dtype=bool)
    parent = np.full(len(codes), -1, dtype=np.int64)
    relations = []
    for p, children in tree.items():
        if p not in occurring:
            continue
        kids = [where[c] for c in children if c in occurring]
        parent[kids] = where[p]
        relations.append((where[p], np.array(kids, dtype=np.int64)))
    total = len(codes) - 1
    if occurs[total]:
        relations.append((total, np.flatnonzero(leaf)))
        tops = occurs & (parent < 0)
        tops[total] = False
        parent[tops] = total  # the top of every branch (or a lone leaf) enters the total
    return Axis(codes=codes, occurs=occurs, leaf=leaf, parent=parent, relations=relations)


@dataclass
class Cube:
    """One group's cells: ``row`` (table row or -1 when absent) and ``value`` per cell.

    ``known``: the attacker knows the value (published now, or absent = 0); ``pinned``:
    published in an earlier release with the same value (known, never worth suppressing).
    """

    shape: tuple[int, ...]
    axes: list[Axis]
    row: np.ndarray
    value: np.ndarray
    known: np.ndarray
    pinned: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        steps = [1]
        for size in reversed(self.shape[1:]):
            steps.insert(0, steps[0] * size)
        self.strides = tuple(steps)  # flat-index step of one position along each axis
        if self.pinned is None:
            self.pinned = np.zeros(self.row.size, dtype=bool)

    @property
    def present(self) -> np.ndarray:
        return self.row >= 0

    def relations(self, axis: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Per margin relation of ``axis``: (parent position, parent cells, child cells).

        Parent cells have shape (n,), child cells (n, children): one equation per row.
        """
        flat = np.arange(self.row.size).reshape(self.shape)
        moved = np.moveaxis(flat, axis, -1).reshape(-1, self.shape[axis])
        for parent, children in self.axes[axis].relations:
            yield parent, moved[:, parent], moved[:, children]


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


def group_ids(table: pa.Table, rules: DisclosureRules) -> np.ndarray:
    """The cube each row belongs to (0..n-1, in order of the sorted group keys)."""
    keys = grouping_columns(table, rules)
    if not keys:
        return np.zeros(table.num_rows, dtype=np.int64)
    group_codes = np.stack([_codes(table.column(k), k)[0] for k in keys], axis=1)
    _, group = np.unique(group_codes, axis=0, return_inverse=True)
    return group.reshape(-1)


def split_cubes(table: pa.Table, rules: DisclosureRules, *, allow_unknown: bool = False,
                pinned: np.ndarray | None = None) -> Iterator[Cube]:
    """Yield one dense cube per group; ``allow_unknown`` accepts null (suppressed) counts.

    ``pinned`` (one flag per row) marks cells an earlier release published unchanged.
    """
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
    positions, labels = [], []
    for name in rules.dimensions:
        idx, dictionary = _codes(table.column(name), name)
        codes = sorted((c for c in dictionary if c != rules.total_code), key=str)
        order = {c: i for i, c in enumerate([*codes, rules.total_code])}
        positions.append(np.array([order[c] for c in dictionary], dtype=np.int64)[idx])
        labels.append([*codes, rules.total_code])  # the last slot is the total
    group = group_ids(table, rules)
    shape = tuple(len(lab) for lab in labels)
    flat = np.ravel_multi_index(tuple(positions), shape)
    pinned = np.zeros(table.num_rows, dtype=bool) if pinned is None else pinned
    rows_by_group = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[rows_by_group])) + 1
    for rows in np.split(rows_by_group, bounds) if table.num_rows else []:
        axes = []
        for d, name in enumerate(rules.dimensions):
            occurs = np.zeros(shape[d], dtype=bool)
            occurs[positions[d][rows]] = True
            axes.append(build_axis(labels[d], occurs, rules.total_code,
                                   rules.subtotals.get(name, {})))
        yield _cube(rows, flat[rows], values[rows], known[rows], pinned[rows], shape, axes)


def _cube(rows, cells, values, known, pinned, shape, axes) -> Cube:
    size = int(np.prod(shape))
    if np.unique(cells).size != cells.size:
        raise DisclosureError("dataset has two rows for the same cell (same keys and codes)",
                              hint="aggregate the table so each combination appears once")
    row = np.full(size, -1, dtype=np.int64)
    value = np.zeros(size, dtype=np.int64)
    is_known = np.ones(size, dtype=bool)
    is_pinned = np.zeros(size, dtype=bool)
    row[cells], value[cells], is_known[cells], is_pinned[cells] = rows, values, known, pinned
    return Cube(shape=shape, axes=axes, row=row, value=value, known=is_known | is_pinned,
                pinned=is_pinned)


def check_margins(cube: Cube, rules: DisclosureRules) -> None:
    """Raise when a margin row is missing or not the sum of the cells it totals."""
    for axis, dim in enumerate(rules.dimensions):
        for parent, totals, children in cube.relations(axis):
            if (cube.value[children].sum(axis=1) != cube.value[totals]).any():
                code = cube.axes[axis].codes[parent]
                what = "leaf codes" if code == rules.total_code else "child codes (subtotals)"
                raise DisclosureError(
                    f"column {rules.count_column}: a {code} row of {dim} is missing or is "
                    f"not the sum of its {what}",
                    hint="send the complete table: every combination of the codes present, "
                         "with margins that add up exactly (a missing row counts as 0)")
