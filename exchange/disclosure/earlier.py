"""Earlier releases: cells the partner already holds (spec rule 6, docs/disclosure.md).

A revision of a contract and period is protected together with every earlier release
the partner received: each cell an earlier release published, whose true value has not
changed since, is known to the attacker. Such a cell is *pinned*: suppressing it now
hides nothing, so it is never chosen as a complement, and the audit treats it as known.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.cube import grouping_columns
from exchange.disclosure.rules import DisclosureRules
from exchange.errors import DisclosureError

_ROW = "__gcmx_row"
_EARLIER = "__gcmx_earlier"


def pinned_rows(table: pa.Table, rules: DisclosureRules,
                earlier: Sequence[pa.Table] = ()) -> np.ndarray:
    """Per row of ``table`` (true counts): published unchanged in an earlier release."""
    pinned = np.zeros(table.num_rows, dtype=bool)
    if not earlier:
        return pinned
    keys = [*grouping_columns(table, rules), *rules.dimensions]
    count = rules.count_column
    current = table.select([*keys, count]).append_column(
        _ROW, pa.array(np.arange(table.num_rows), pa.int64()))
    for i, release in enumerate(earlier):
        missing = [k for k in [*keys, count] if k not in release.column_names]
        if missing:
            raise DisclosureError(
                f"earlier release {i + 1} has no column {missing[0]}",
                hint="pass the earlier releases exactly as the partner received them")
        shown = release.filter(pc.is_valid(release.column(count)))
        shown = shown.select([*keys, count]).rename_columns([*keys, _EARLIER])
        shown = shown.set_column(len(keys), _EARLIER, pc.cast(shown.column(_EARLIER), pa.int64()))
        for k in keys:  # join on text keys whatever their stored type
            current = current.set_column(current.column_names.index(k), k,
                                         pc.cast(current.column(k), pa.string()))
            shown = shown.set_column(shown.column_names.index(k), k,
                                     pc.cast(shown.column(k), pa.string()))
        joined = current.join(shown, keys=keys, join_type="inner")
        same = pc.fill_null(pc.equal(pc.cast(joined.column(count), pa.int64()),
                                     joined.column(_EARLIER)), False)  # now suppressed: not known
        rows = joined.column(_ROW).to_numpy()[same.to_numpy(zero_copy_only=False)]
        pinned[rows] = True
    return pinned
