"""Protect a frequency table: suppress, flag with SDMX status codes, self-check."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from exchange.disclosure.cube import STATUS_COLUMNS, check_margins, split_cubes
from exchange.disclosure.rules import DisclosureRules
from exchange.disclosure.suppression import FREE, PRIMARY, SECONDARY, suppress
from exchange.errors import DisclosureError

OBS_STATUS_CODES = {FREE: "A", PRIMARY: "M", SECONDARY: "M"}  # A normal, M missing
CONF_STATUS_CODES = {FREE: "F", PRIMARY: "C", SECONDARY: "D"}  # free / confidential / secondary


@dataclass
class AggregateOutcome:
    """Counts of what suppression did (no values)."""

    cells: int
    primary: int
    secondary: int
    certified_width: float


def protect_aggregate(table: pa.Table, rules: DisclosureRules) -> tuple[pa.Table, AggregateOutcome]:
    """Suppress small cells and their complements; return the table and the counts."""
    for name in STATUS_COLUMNS:
        if name in table.column_names and table.column(name).null_count != table.num_rows:
            raise DisclosureError(f"column {name} already holds status codes",
                                  hint="protect the original complete table, not a "
                                       "protected one")
    status = np.zeros(table.num_rows, dtype=np.int8)
    widths = []
    for cube in split_cubes(table, rules):
        check_margins(cube, rules)
        done = suppress(cube, rules.minimum_cell_size, rules.protection_interval)
        present = np.flatnonzero(cube.present)
        status[cube.row[present]] = done.status[present]
        hidden = present[done.status[present] != FREE]
        widths.append(done.width[hidden].min() if hidden.size else np.inf)
    counts = table.column(rules.count_column)
    published = pa.array(np.where(status == FREE, counts.to_numpy(), 0),
                         type=counts.type, mask=status != FREE)
    out = table.set_column(table.column_names.index(rules.count_column),
                           rules.count_column, published)
    for name, codes in (("OBS_STATUS", OBS_STATUS_CODES), ("CONF_STATUS", CONF_STATUS_CODES)):
        lookup = np.array([codes[FREE], codes[PRIMARY], codes[SECONDARY]], dtype=object)
        column = pa.array(lookup[status], type=pa.string())
        if name in out.column_names:
            out = out.set_column(out.column_names.index(name), name, column)
        else:
            out = out.append_column(name, column)
    outcome = AggregateOutcome(cells=table.num_rows, primary=int((status == PRIMARY).sum()),
                               secondary=int((status == SECONDARY).sum()),
                               certified_width=float(min(widths, default=np.inf)))
    return out, outcome
