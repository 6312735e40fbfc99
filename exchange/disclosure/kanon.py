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

Scoring and suppression run on the records merged by their codes and sensitive values
(a few thousand rows for a million records; the records of a row always share a class),
so their cost hardly grows with the records; only a fully suppressed class that must
borrow part of a row falls back to the records themselves. The class conditions are in
:mod:`exchange.disclosure.classes`.

l-diversity (distinct): a class also fails while a sensitive attribute takes fewer than
l distinct values in it; failing classes are generalised and suppressed exactly like
classes smaller than k. A fixed partition (release period, earlier-release history) is
part of every class and never changed; one that cannot pass even fully suppressed
makes the release impossible (DisclosureError).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.classes import (
    Privacy,
    check_partitions,
    class_ids,
    diversity,
    sensitive_codes,
    unattainable,
    violating,
)
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
    l_reached: int | None = None
    suppressed_by_column: dict[str, int] = field(default_factory=dict)  # values nulled per quasi-identifier


@dataclass
class _Column:
    name: str
    indices: np.ndarray           # per record, into the distinct codes (nulls: last slot)
    levels: list[np.ndarray]      # per level: group id per distinct code (+ null slot)
    labels: list[list]            # per level: label per group id
    loss: list[np.ndarray]        # per level: loss per distinct code (+ null slot)
    frequency: np.ndarray         # records per distinct code (+ null slot)


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


def _encode(columns: list[_Column], combo: tuple[int, ...], privacy: Privacy,
            indices: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes (records x quasi-identifiers, then the fixed partition) and each column's radix;
    of the rows whose distinct codes are ``indices`` (per column) when given."""
    indices = indices if indices is not None else [c.indices for c in columns]
    parts = [c.levels[lv][i] for c, lv, i in zip(columns, combo, indices, strict=True)]
    radix = [len(c.labels[lv]) + 2 for c, lv in zip(columns, combo, strict=True)]
    if privacy.fixed is not None:
        parts.append(privacy.fixed)
        radix.append(int(privacy.fixed.max(initial=0)) + 2)
    codes = np.empty((len(parts[0]), len(parts)), dtype=np.int64, order="F")
    for j, part in enumerate(parts):  # column by column: contiguous writes
        codes[:, j] = part
    return codes, np.array(radix)


@dataclass
class _Distinct:
    """The records merged by what scoring a combination of levels reads (each quasi-identifier's
    distinct code, the fixed partition, the sensitive values): one row per distinct record, with
    how many records it stands for. Scoring every combination on these rows counts the same
    failing records as on the records themselves, at a fraction of the work."""

    columns: list[_Column]
    indices: list[np.ndarray]     # per quasi-identifier: the rows' distinct codes
    privacy: Privacy             # the rows' fixed partition and sensitive values
    weights: np.ndarray           # records per row
    inverse: np.ndarray           # per record: its row

    @classmethod
    def of(cls, columns: list[_Column], privacy: Privacy) -> _Distinct | None:
        """The merged rows (None when their combined codes would not fit one 64-bit key)."""
        parts = [c.indices for c in columns] + [values for values, _ in privacy.sensitive]
        sizes = [len(c.frequency) for c in columns] + [distinct for _, distinct in privacy.sensitive]
        if privacy.fixed is not None:
            parts.append(privacy.fixed)
            sizes.append(int(privacy.fixed.max(initial=0)) + 1)
        if float(np.prod(np.array(sizes, dtype=float))) >= 2**62:
            return None
        step = np.cumprod(np.append(1, sizes[:-1])).astype(np.int64)
        key = np.zeros(len(parts[0]), dtype=np.int64)
        for part, weight in zip(parts, step, strict=True):
            key += part * weight
        rows, inverse, weights = np.unique(key, return_inverse=True, return_counts=True)
        decoded = [(rows // weight) % size for weight, size in zip(step, sizes, strict=True)]
        q, m = len(columns), len(privacy.sensitive)
        sensitive = [(decoded[q + i], distinct) for i, (_, distinct) in enumerate(privacy.sensitive)]
        fixed = decoded[q + m] if privacy.fixed is not None else None
        return cls(columns, decoded[:q], Privacy(privacy.k, privacy.diversity, sensitive, fixed), weights,
                   inverse.reshape(-1))

    def encode(self, combo: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The rows' codes under ``combo`` and each column's radix."""
        return _encode(self.columns, combo, self.privacy, self.indices)

    def failing(self, combo: tuple[int, ...]) -> int:
        """How many records are in failing classes under ``combo``, before any suppression."""
        bad = violating(*self.encode(combo), self.privacy, self.weights)
        return int(self.weights[bad].sum())

    def suppressed(self, combo: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        """Every record's codes after local suppression under ``combo``, and the radix: the
        same as suppressing the records themselves, since the records of a row are always in
        one class. None when a fully suppressed class must borrow records (which splits rows)."""
        codes, radix = self.encode(combo)
        try:
            rows = _suppress_locally(codes, radix, len(self.columns), self.privacy, self.weights)
        except _SplitsRows:
            return None
        return rows[self.inverse], radix


class _SplitsRows(Exception):
    """Local suppression on merged rows would have to move part of a row."""


def _suppress_locally(codes: np.ndarray, radix: np.ndarray, q: int, privacy: Privacy,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Null (code radix-1) quasi-identifiers of failing records until every class passes
    (rows of ``weights`` records each, when given)."""
    suppressed = radix - 1
    bad = violating(codes, radix, privacy, weights)
    while (failing_rows := np.flatnonzero(bad)).size:
        open_columns = [j for j in range(q) if (codes[failing_rows, j] != suppressed[j]).any()]
        if not open_columns:
            if weights is not None:
                raise _SplitsRows
            _pad_fully_suppressed(codes, radix, q, bad, privacy)
        else:
            best = None
            for j in open_columns:
                trial = codes.copy()
                trial[failing_rows, j] = suppressed[j]
                failing = violating(trial, radix, privacy, weights)
                left = int(failing.sum() if weights is None else weights[failing].sum())
                if best is None or left < best[0]:
                    best = (left, j)
            codes[failing_rows, best[1]] = suppressed[best[1]]
        bad = violating(codes, radix, privacy, weights)
    return codes


def _pad_fully_suppressed(codes, radix, q, bad, privacy: Privacy) -> None:
    """A fully suppressed class fails: move into it the largest class of its partition
    (or, when that class can spare them, just enough of its records)."""
    suppressed = radix[:q] - 1
    blank = (codes[:, :q] == suppressed).all(axis=1)
    failing = np.flatnonzero(blank & bad)
    fixed = codes[:, q:]
    part = (fixed == fixed[failing[0]]).all(axis=1)
    others = np.flatnonzero(part & ~blank)
    if others.size == 0:
        raise unattainable(privacy)
    key, counts = class_ids(codes, radix)
    sizes = counts[key[others]]
    largest = others[sizes == sizes.max()]
    members = others[key[others] == key[largest[0]]]
    need = privacy.k - int((blank & part).sum())
    take = members
    if privacy.diversity == 1 and 0 < need and members.size - need >= privacy.k:
        take = members[-need:]
    codes[np.ix_(take, np.arange(q))] = suppressed


def k_anonymise(table: pa.Table, rules: DisclosureRules, *, fixed: np.ndarray | None = None,
                quasi_identifiers: tuple[str, ...] | None = None
                ) -> tuple[pa.Table, KAnonOutcome]:
    """Generalise and locally suppress quasi-identifiers until every class has >= k records
    and >= l distinct values of each sensitive attribute.

    ``fixed``: per-record partition ids that are part of every class but never changed
    (the release period, the class a person had in earlier releases)."""
    n, k = table.num_rows, rules.k
    if 0 < n < k:
        raise DisclosureError(f"dataset has {n} record(s), fewer than disclosure.k = {k}",
                              hint="no release can be k-anonymous; aggregate instead")
    privacy = Privacy(k, rules.l_diversity, sensitive_codes(table, rules.sensitive_attributes),
                       None if fixed is None else np.asarray(fixed, dtype=np.int64))
    if n:
        check_partitions(privacy, n)
    names = quasi_identifiers if quasi_identifiers is not None else rules.quasi_identifiers
    columns = [_column(table, c, rules.hierarchies.get(c)) for c in names]
    q = len(columns)
    scored = []
    distinct = _Distinct.of(columns, privacy) if n else None
    for combo in itertools.product(*(range(len(c.levels)) for c in columns)):
        gen = sum(float(c.frequency @ c.loss[lv]) for c, lv in zip(columns, combo, strict=True))
        small = (distinct.failing(combo) if distinct is not None
                 else int(violating(*_encode(columns, combo, privacy), privacy).sum()) if n else 0)
        scored.append(((gen + small) / max(n * q, 1), sum(combo), combo, gen))
    scored.sort()
    best = None
    for _, _, combo, gen in scored[:_FINALISTS]:
        merged = distinct.suppressed(combo) if distinct is not None else None
        if merged is not None:
            final, radix = merged
        else:
            codes, radix = _encode(columns, combo, privacy)
            final = _suppress_locally(codes, radix, q, privacy) if n else codes
        blanks = final[:, :q] == radix[:q] - 1
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
    key, counts = class_ids(final, radix)
    diverse = diversity(key, len(counts), privacy) if n and privacy.sensitive else None
    return out, KAnonOutcome(
        records=n, generalised=int(generalised.sum()),
        suppressed_records=int(blanks.any(axis=1).sum()), suppressed_values=int(blanks.sum()),
        k_reached=int(counts[key].min()) if n else 0, loss=float(loss),
        levels={c.name: lv for c, lv in zip(columns, combo, strict=True)},
        l_reached=int(diverse.min()) if diverse is not None else None,
        suppressed_by_column={c.name: int(blanks[:, j].sum()) for j, c in enumerate(columns)})


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
