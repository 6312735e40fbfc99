"""Equivalence classes of records for k-anonymity: their ids and sizes, and whether they pass.

A class is a set of records equal on every quasi-identifier (and on the fixed partition:
release period, earlier-release history). It fails while it has fewer than k records or,
per sensitive attribute, fewer than l distinct values. Rows may stand for several records
(``weights``): the merged records k-anonymisation scores on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.errors import DisclosureError


@dataclass
class Privacy:
    """The class conditions: size >= k and, per sensitive attribute, >= l distinct values.

    ``fixed`` (optional) is a per-record partition id (release period, earlier-release
    history) that is part of every class and is never generalised or suppressed."""

    k: int
    diversity: int
    sensitive: list[tuple[np.ndarray, int]]   # (codes, distinct count incl. null slot)
    fixed: np.ndarray | None


def class_ids(codes: np.ndarray, radix: np.ndarray, weights: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's equivalence class id (equal codes on every column) and class sizes (the
    rows' ``weights`` summed, when rows stand for several records)."""
    space = int(np.prod(radix.astype(float)))
    if space < 2**26:
        key = codes @ np.cumprod(np.append(1, radix[:-1]))
    else:
        _, key = np.unique(codes, axis=0, return_inverse=True)
        key, space = key.reshape(-1), int(key.max(initial=-1)) + 1
    if weights is None:
        return key, np.bincount(key, minlength=space)
    return key, np.bincount(key, weights=weights, minlength=space).astype(np.int64)


def diversity(key: np.ndarray, classes: int, privacy: Privacy) -> np.ndarray:
    """Per record: the fewest distinct values any sensitive attribute takes in its class."""
    least = np.full(len(key), np.iinfo(np.int64).max)
    for values, distinct in privacy.sensitive:
        pairs = key.astype(np.int64) * distinct + values
        if classes * distinct < 2**24:  # a presence table is cheaper than sorting
            seen = np.bincount(pairs, minlength=classes * distinct).reshape(classes, distinct)
            per_class = (seen > 0).sum(axis=1)
        else:
            per_class = np.bincount(np.unique(pairs) // distinct, minlength=classes)
        least = np.minimum(least, per_class[key])
    return least


def violating(codes: np.ndarray, radix: np.ndarray, privacy: Privacy,
               weights: np.ndarray | None = None) -> np.ndarray:
    """Records (rows of ``weights`` records each) in a class smaller than k or less than l-diverse."""
    key, counts = class_ids(codes, radix, weights)
    bad = counts[key] < privacy.k
    if privacy.diversity > 1 and privacy.sensitive:
        bad |= diversity(key, len(counts), privacy) < privacy.diversity
    return bad


def unattainable(privacy: Privacy) -> DisclosureError:
    what = (f"{privacy.k}-anonymous and {privacy.diversity}-diverse" if privacy.diversity > 1
            else f"{privacy.k}-anonymous")
    return DisclosureError(
        f"no release of this dataset can be {what}: a release period (or the records "
        "sharing an earlier release's class) has too few records or too few distinct "
        "values of a sensitive attribute (disclosure.sensitiveAttributes)",
        hint="send this period together with the next one, or aggregate instead")


def sensitive_codes(table: pa.Table, names: tuple[str, ...]) -> list[tuple[np.ndarray, int]]:
    out = []
    for name in names:
        if name not in table.column_names:
            raise DisclosureError(f"dataset has no column {name} "
                                  "(named by disclosure.sensitiveAttributes)",
                                  hint="fix the contract or the dataset")
        encoded = pc.dictionary_encode(table.column(name)).combine_chunks()
        slot = len(encoded.dictionary)
        out.append((encoded.indices.fill_null(slot).to_numpy(zero_copy_only=False)
                    .astype(np.int64), slot + 1))
    return out


def least_diversity(table: pa.Table, sensitive: tuple[str, ...], groups: np.ndarray
                    ) -> np.ndarray:
    """Per record: the fewest distinct values a sensitive attribute takes in its group."""
    if not sensitive:
        return np.full(len(groups), np.iinfo(np.int64).max)
    privacy = Privacy(1, 1, sensitive_codes(table, sensitive), None)
    return diversity(groups, int(groups.max(initial=0)) + 1, privacy)


def check_partitions(privacy: Privacy, n: int) -> None:
    """Every fixed partition must be able to pass on its own (fully suppressed)."""
    fixed = privacy.fixed if privacy.fixed is not None else np.zeros(n, dtype=np.int64)
    if (np.bincount(fixed)[fixed] < privacy.k).any():
        raise unattainable(privacy)
    if privacy.diversity > 1 and privacy.sensitive and (
            diversity(fixed, int(fixed.max()) + 1, privacy) < privacy.diversity).any():
        raise unattainable(privacy)
