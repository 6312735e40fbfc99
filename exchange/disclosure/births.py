"""Birth-registration reconciliation without names.

The destination holds the births it registered of children of Cambodian nationals;
Cambodia holds its civil registry. Both identify a child by the same identifier
(e.g. the birth certificate number), pseudonymised under the bilateral linkage key
with the column name as scope (stable across releases: the ``withRecipient`` case of
``disclosure.linkage``), so the two lists can be matched on pseudonyms alone. The result counts, by sex and
age group, the children registered abroad that the civil registry holds (MATCHED)
and does not hold (UNMATCHED), with margins, and is itself protected like any
frequency table (minimum cell size, secondary suppression).
"""

from __future__ import annotations

import itertools

import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.aggregate import protect_aggregate
from exchange.disclosure.pseudonym import looks_pseudonymised, pseudonymise
from exchange.disclosure.rules import DisclosureRules
from exchange.errors import DisclosureError

STATUS_COLUMN = "registry_status"
MATCHED, UNMATCHED = "MATCHED", "UNMATCHED"


def _ids(table: pa.Table, column: str, key: bytes | None, side: str) -> pa.Array:
    if column not in table.column_names:
        raise DisclosureError(f"{side} has no column {column}",
                              hint="name the child identifier column with id_column=")
    values = table.column(column).combine_chunks()
    if key is not None:
        return pseudonymise(values, key, column)
    if not looks_pseudonymised(values):
        raise DisclosureError(f"{side} column {column} holds raw identifiers",
                              hint="pass the linkage key, or pseudonymise both sides first "
                                   "with the same key and domain (the column name)")
    return values


def reconcile_births(registered: pa.Table, civil_registry: pa.Table, key: bytes | None = None,
                     *, id_column: str = "child_id", sex_column: str = "sex",
                     age_column: str = "age_group", minimum_cell_size: int = 5,
                     protection_interval: int = 5) -> pa.Table:
    """Count registered births matched / unmatched in the civil registry, protected.

    Either give ``key`` (the linkage key; both id columns are pseudonymised here) or
    pass tables already pseudonymised under it (``key=None``). Each child counts once.
    Returns columns ``sex, age_group, registry_status, count, OBS_STATUS, CONF_STATUS``
    with ``_T`` margins; small cells are suppressed like any contract's aggregate.
    """
    for name in (sex_column, age_column):
        if name not in registered.column_names:
            raise DisclosureError(f"registered births have no column {name}",
                                  hint="name it with sex_column= / age_column=")
    ids = _ids(registered, id_column, key, "registered births")
    known = _ids(civil_registry, id_column, key, "civil registry")
    children = pa.table({"id": ids, sex_column: registered.column(sex_column),
                         age_column: registered.column(age_column)})
    children = children.group_by("id", use_threads=False).aggregate(
        [(sex_column, "first"), (age_column, "first")]).rename_columns(
        ["id", sex_column, age_column])
    matched = pc.is_in(children.column("id"), value_set=pc.drop_null(known))
    status = pc.if_else(matched, MATCHED, UNMATCHED)
    rows = pa.table({sex_column: pc.cast(children.column(sex_column), pa.string()),
                     age_column: pc.cast(children.column(age_column), pa.string()),
                     STATUS_COLUMN: status})
    dims = [sex_column, age_column, STATUS_COLUMN]
    parts = []
    for totalled in itertools.product((False, True), repeat=len(dims)):
        view = rows
        for name, is_total in zip(dims, totalled, strict=True):
            if is_total:
                view = view.set_column(view.column_names.index(name), name,
                                       pa.array(["_T"] * view.num_rows, pa.string()))
        parts.append(view.group_by(dims).aggregate([([], "count_all")]))
    counts = pa.concat_tables(parts).rename_columns([*dims, "count"])
    counts = counts.set_column(3, "count", pc.cast(counts.column("count"), pa.int64()))
    counts = counts.sort_by([(d, "ascending") for d in dims])
    rules = DisclosureRules.from_dict({
        "method": "aggregate", "countColumn": "count", "dimensions": dims,
        "minimumCellSize": minimum_cell_size,
        "protectionLevels": {"lower": protection_interval, "upper": protection_interval}})
    protected, _ = protect_aggregate(counts, rules)
    return protected
