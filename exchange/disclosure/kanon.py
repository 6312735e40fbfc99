"""k-anonymity for record-level data: generalise along hierarchies, then suppress locally.

Each quasi-identifier is dictionary-encoded once; a generalisation level maps every
distinct code to its wider code (level ``j`` applies the contract's first ``j``
mappings; codes not listed stay). Information loss of a value is the share of the
column's distinct codes it no longer tells apart, ``(leaves - 1) / (distinct - 1)``,
and 1 for a suppressed value; the table's loss is the mean over records and
quasi-identifiers (Iyengar's loss metric). Every combination of levels is scored
(generalisation loss plus the least suppression it still needs), the best few are
finished with local suppression, and the lowest total loss wins. Local suppression
nulls, for the records still in classes smaller than k, the quasi-identifier whose
suppression leaves the fewest such records, until none are left. A null is its own
value when classes are counted, so the published table is k-anonymous as it reads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.rules import DisclosureRules
from exchange.errors import DisclosureError

_FINALISTS = 3


@dataclass
class KAnonOutcome:
    """What generalisation and suppression did (counts and loss only)."""

    records: int
    generalised: int
    suppressed_records: int
    suppressed_values: int
    k_reached: int
    loss: float
    levels: dict[str, int]


@dataclass
class _Column:
    name: str
    indices: np.ndarray           # per record, into the distinct codes (nulls: last slot)
    levels: list[np.ndarray]      # per level: group id per distinct code (+ null slot)
    labels: list[list]            # per level: label per group id
    loss: list[np.ndarray]        # per level: loss per distinct code (+ null slot)
    frequency: np.ndarray         # records per distinct code (+ null slot)

    def codes(self, level: int) -> np.ndarray:
        return self.levels[level][self.indices]


def _column(table: pa.Table, name: str, hierarchy) -> _Column:
    if name not in table.column_names:
        raise DisclosureError(f"dataset has no column {name} "
                              "(named by disclosure.quasiIdentifiers)",
                              hint="fix the contract or the dataset")
    values = table.column(name)
    if hierarchy and not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(values).combine_chunks()
    base = encoded.dictionary.to_pylist()
    null_slot = len(base)
    indices = encoded.indices.fill_null(null_slot).to_numpy(zero_copy_only=False)
    frequency = np.bincount(indices, minlength=null_slot + 1)
    distinct = max(len(base) - 1, 1)
    current = list(base)
    levels, labels, losses = [], [], []
    for mapping in ({}, *(hierarchy or ())):
        current = [mapping.get(c, c) for c in current]
        names = sorted(set(current), key=str)
        group = {label: i for i, label in enumerate(names)}
        ids = np.array([group[c] for c in current] + [len(names)], dtype=np.int64)
        leaves = np.bincount(ids[:-1], minlength=len(names) + 1)
        levels.append(ids)
        labels.append(names)
        losses.append(np.append((leaves[ids[:-1]] - 1) / distinct, 0.0))
    return _Column(name, indices.astype(np.int64), levels, labels, losses, frequency)


def _encode(columns: list[_Column], combo: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Codes (records x quasi-identifiers) at the given levels, and each column's radix."""
    codes = np.stack([c.codes(lv) for c, lv in zip(columns, combo, strict=True)], axis=1)
    radix = np.array([len(c.labels[lv]) + 2 for c, lv in zip(columns, combo, strict=True)])
    return codes, radix


def _class_sizes(codes: np.ndarray, radix: np.ndarray) -> np.ndarray:
    """Size of each record's equivalence class (equal codes on every column)."""
    space = int(np.prod(radix.astype(float)))
    if space < 2**26:
        key = codes @ np.cumprod(np.append(1, radix[:-1]))
        return np.bincount(key, minlength=space)[key]
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)]


def _suppress_locally(codes: np.ndarray, radix: np.ndarray, k: int) -> np.ndarray:
    """Null (code radix-1) quasi-identifiers of small-class records until all classes >= k."""
    suppressed = radix - 1
    sizes = _class_sizes(codes, radix)
    while (violating := np.flatnonzero(sizes < k)).size:
        open_columns = [j for j in range(codes.shape[1])
                        if (codes[violating, j] != suppressed[j]).any()]
        if not open_columns:
            _pad_fully_suppressed(codes, sizes, suppressed, k)
        else:
            best = None
            for j in open_columns:
                trial = codes.copy()
                trial[violating, j] = suppressed[j]
                left = int((_class_sizes(trial, radix) < k).sum())
                if best is None or left < best[0]:
                    best = (left, j)
            codes[violating, best[1]] = suppressed[best[1]]
        sizes = _class_sizes(codes, radix)
    return codes


def _pad_fully_suppressed(codes, sizes, suppressed, k) -> None:
    """The all-null class is smaller than k: take records from the largest class into it."""
    blank = (codes == suppressed).all(axis=1)
    need = k - int(blank.sum())
    others = np.flatnonzero(~blank)
    if others.size < need:
        codes[:] = suppressed
        return
    largest = others[sizes[others] == sizes[others].max()]
    first = codes[largest[0]]
    members = others[(codes[others] == first).all(axis=1)]
    take = members[-need:] if members.size - need >= k else members
    codes[take] = suppressed


def k_anonymise(table: pa.Table, rules: DisclosureRules) -> tuple[pa.Table, KAnonOutcome]:
    """Generalise and locally suppress quasi-identifiers until every class has >= k records."""
    n, k = table.num_rows, rules.k
    if 0 < n < k:
        raise DisclosureError(f"dataset has {n} record(s), fewer than disclosure.k = {k}",
                              hint="no release can be k-anonymous; aggregate instead")
    columns = [_column(table, c, rules.hierarchies.get(c)) for c in rules.quasi_identifiers]
    q = len(columns)
    scored = []
    for combo in itertools.product(*(range(len(c.levels)) for c in columns)):
        codes, radix = _encode(columns, combo)
        gen = sum(float(c.frequency @ c.loss[lv]) for c, lv in zip(columns, combo, strict=True))
        small = int((_class_sizes(codes, radix) < k).sum()) if n else 0
        scored.append(((gen + small) / max(n * q, 1), sum(combo), combo, gen))
    scored.sort()
    best = None
    for _, _, combo, gen in scored[:_FINALISTS]:
        codes, radix = _encode(columns, combo)
        final = _suppress_locally(codes, radix, k) if n else codes
        blanks = final == radix - 1
        loss = (gen - _generalisation_undone(columns, combo, blanks) + blanks.sum()) / max(n * q, 1)
        if best is None or loss < best[0] - 1e-12:
            best = (loss, combo, final, radix, blanks)
    loss, combo, final, radix, blanks = best
    out = table
    generalised = np.zeros(n, dtype=bool)
    for j, (column, level) in enumerate(zip(columns, combo, strict=True)):
        changed = (column.loss[level][column.indices] > 0) & ~blanks[:, j]
        generalised |= changed
        out = _write_column(out, column, level, final[:, j], blanks[:, j])
    sizes = _class_sizes(final, radix)
    return out, KAnonOutcome(
        records=n, generalised=int(generalised.sum()),
        suppressed_records=int(blanks.any(axis=1).sum()), suppressed_values=int(blanks.sum()),
        k_reached=int(sizes.min()) if n else 0, loss=float(loss),
        levels={c.name: lv for c, lv in zip(columns, combo, strict=True)})


def _generalisation_undone(columns, combo, blanks) -> float:
    """Generalisation loss of values later suppressed (counted once, as suppression)."""
    return sum(float(c.loss[lv][c.indices[blanks[:, j]]].sum())
               for j, (c, lv) in enumerate(zip(columns, combo, strict=True)))


def _write_column(table: pa.Table, column: _Column, level: int, codes: np.ndarray,
                  blank: np.ndarray) -> pa.Table:
    original = table.column(column.name)
    null_code = len(column.labels[level])
    mask = blank | (codes == null_code)
    if level == 0 and not mask.any():
        return table
    if level == 0:
        values = pc.if_else(pa.array(mask), pa.nulls(len(mask), original.type), original)
    else:
        dictionary = pa.array(column.labels[level], type=pa.string())
        safe = np.where(mask, 0, codes)
        values = pc.if_else(pa.array(mask), pa.nulls(len(mask), pa.string()),
                            dictionary.take(pa.array(safe)))
    index = table.column_names.index(column.name)
    return table.set_column(index, pa.field(column.name, values.type), values)
