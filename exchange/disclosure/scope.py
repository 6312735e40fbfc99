"""Only the contract leaves: the input checks that run before any disclosure control.

:func:`check_publishable` rejects a table that the contract does not describe, so
nothing outside the contract can reach the partner and no suppression is computed
on data the partner could read differently:

* a column the contract does not name (``full_name``, ``passport_no``, a constant
  text column that would become a grouping key of an aggregate);
* a column the contract requires but the file lacks (columns added by protection,
  such as OBS_STATUS, may be absent);
* a value of a code-list column outside the contract's allowed values (``XX``, or
  CL_AGE subtotals the contract does not list: with both a subtotal and its parts in
  the file, a suppressed part is recovered by subtraction);
* zero rows (the contract says a file is never empty);
* a null in a required column, a duplicate in a ``unique`` column, a duplicate
  primary key (the ``primaryKey`` properties together).

The errors name the column and the offending code (codes are code-list values, never
record values; identifiers are only counted) and say how to fix the file or contract.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from exchange.errors import DisclosureError

_SHOWN = 5


def _fail(contract_id: str, problem: str, hint: str) -> DisclosureError:
    return DisclosureError(f"dataset for contract {contract_id}: {problem}", hint=hint)


def _columns(table: pa.Table, contract) -> None:
    agreed = contract.columns
    stray = [c for c in table.column_names if c not in agreed]
    if stray:
        raise _fail(contract.id, f"column {stray[0]} is not in the contract"
                    + (f" (nor {', '.join(stray[1:_SHOWN])})" if len(stray) > 1 else ""),
                    "drop the column from the file before protecting it, or agree a new "
                    "contract version that names it")
    missing = [name for name, col in agreed.items()
               if col.required and name not in table.column_names]
    if missing:
        raise _fail(contract.id, f"column {missing[0]} required by the contract is missing",
                    "add the column to the file (gcmx contract show lists the columns)")


def _codes(table: pa.Table, contract) -> None:
    for name, col in contract.columns.items():
        if not col.codelist or name not in table.column_names:
            continue
        values = pc.unique(pc.cast(table.column(name), pa.string()))
        allowed = pa.array([str(c) for c in col.codelist], pa.string())
        bad = pc.filter(values, pc.invert(pc.is_in(values, value_set=allowed)))
        bad = [v for v in bad.to_pylist() if v is not None]
        if bad:
            shown = ", ".join(repr(v[:20]) for v in sorted(bad)[:_SHOWN])
            where = f"code list {col.codelist_name}" if col.codelist_name else "allowed values"
            raise _fail(contract.id, f"column {name} holds code(s) {shown} outside its {where}",
                        f"recode to one of the contract's codes for {name} (subtotals the "
                        "contract does not list are derived by the recipient, not sent)")


def _primary_key(contract) -> list[str]:
    schema = (contract.document.get("schema") or [{}])[0]
    keyed = [(p.get("primaryKeyPosition", 0), p["name"])
             for p in schema.get("properties") or [] if p.get("primaryKey")]
    return [name for _, name in sorted(keyed)]


def _identifiers(table: pa.Table, contract) -> None:
    for name, col in contract.columns.items():
        if name not in table.column_names:
            continue
        column = table.column(name)
        if not col.nullable and column.null_count:
            raise _fail(contract.id, f"column {name} has {column.null_count} null value(s) "
                        "but the contract says it is required",
                        f"fill {name} in every row, or remove those rows")
        if col.unique:
            distinct = pc.count_distinct(column, mode="only_valid").as_py()
            dups = len(column) - column.null_count - distinct
            if dups:
                raise _fail(contract.id, f"column {name} has {dups} duplicate value(s) but "
                            "the contract says it is unique",
                            f"keep one row per {name} (deduplicate the source)")
    key = [c for c in _primary_key(contract) if c in table.column_names]
    if len(key) > 1:
        groups = table.select(key).group_by(key, use_threads=False).aggregate([])
        if groups.num_rows != table.num_rows:
            raise _fail(contract.id, f"{table.num_rows - groups.num_rows} row(s) repeat the "
                        f"primary key ({', '.join(key)})", "keep one row per key")


def check_publishable(table: pa.Table, contract: Any) -> None:
    """Raise DisclosureError unless ``table`` holds only what ``contract`` describes."""
    if table.num_rows == 0:
        raise _fail(contract.id, "has no rows; the contract says a file is never empty",
                    "send the period's file once it has data (nothing was written)")
    _columns(table, contract)
    _codes(table, contract)
    _identifiers(table, contract)
