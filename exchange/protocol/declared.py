"""What an exchange declares is what its data says.

An exchange declares its period (the ``--period`` of a publish, the signed manifest and
the bucket prefix) and, through its contract, who reports to whom. In SDMX terms
``ref_area`` is the reporting country and ``counterpart_area`` the partner country; every
contract in ``contracts/`` pins them to its sender and its recipient. So every row must
hold the declared period, ``ref_area`` = the sender and ``counterpart_area`` = the
recipient. Where a contract's own code list for an area column leaves out the party its
role implies (its meaning is ambiguous), the column must at least hold one party of the
contract throughout, and the two area columns must differ.

A mismatch is a contract breach: the sender quarantines the file and sends nothing, the
recipient rejects the exchange. Only the few columns needed are read, batch by batch, so
the check is cheap for a file of any size. Messages give counts and codes, never record
values: a value is shown only when it is a well-formed period or a party of the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exchange.contract.model import PERIODS, Contract
from exchange.errors import ContractError

AREA_ROLES = {"ref_area": "sender", "counterpart_area": "recipient"}
BATCH_ROWS = 64 * 1024
SHOWN = 3  # codes named in a message, per column


class DeclarationMismatch(ContractError):
    """Rows of a dataset say another period or other parties than its exchange declares."""


def declared_values(contract: Contract, period: str) -> dict[str, str | None]:
    """Column → the value every row must hold; None where only consistency can be checked."""
    expected: dict[str, str | None] = {"period": period} if "period" in contract.columns else {}
    parties = {"sender": contract.sender, "recipient": contract.recipients[0]}
    for column, role in AREA_ROLES.items():
        if column in contract.columns:
            codes = contract.columns[column].codelist
            expected[column] = parties[role] if codes is None or parties[role] in codes else None
    return expected


@dataclass
class _Column:
    """What one column's rows said, as far as the check needs it."""

    expected: str | None
    rows: int = 0
    off: int = 0
    values: set = field(default_factory=set)

    def add(self, values: pa.Array | None, length: int) -> None:
        self.rows += length
        if values is None:
            self.off += length
            self.values.add(None)
            return
        if self.expected is not None:
            wrong = pc.invert(pc.fill_null(pc.equal(values, self.expected), False))
            self.off += pc.sum(wrong).as_py() or 0
            values = values.filter(wrong)
        if len(self.values) <= SHOWN:
            self.values.update(pc.unique(values).to_pylist()[:SHOWN + 1])


def _as_text(column: pa.Array) -> pa.Array | None:
    """The column as strings, or None when it cannot be read as text (its type is wrong)."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    try:
        parquet = pq.ParquetFile(path)
        present = [c for c in columns if c in parquet.schema_arrow.names]
        if present:
            yield from parquet.iter_batches(batch_size=BATCH_ROWS, columns=present)
    except (pa.ArrowException, OSError) as exc:
        raise ContractError(f"{path.name}: cannot read the period and area columns ({type(exc).__name__})",
                            hint="the file is not a readable Parquet file; check how it was written") from None


def _shown(contract: Contract, column: str, value) -> str | None:
    """``value`` if it is a code that says nothing about a person, else None."""
    if not isinstance(value, str):
        return None
    if column == "period":
        return value if PERIODS[contract.period].fullmatch(value) else None
    return value if value in (contract.sender, *contract.recipients) else None


def _describe(contract: Contract, column: str, seen: _Column) -> str:
    codes = sorted({v for v in (_shown(contract, column, x) for x in seen.values) if v})[:SHOWN]
    other = " or other values" if len(codes) < len(seen.values) else ""
    said = f" (they say {', '.join(codes)}{other})" if codes else ""
    return f"{seen.off} of {seen.rows} rows have {column} other than the declared {seen.expected}{said}"


def _consistency_problem(contract: Contract, column: str, seen: _Column) -> str | None:
    parties = {contract.sender, *contract.recipients}
    if seen.values - parties or len(seen.values) > 1:
        codes = sorted(v for v in seen.values if v in parties)
        return (f"{column} must name one party of the contract ({', '.join(sorted(parties))}) in every row; "
                f"the rows hold {len(seen.values)} distinct values"
                + (f" including {', '.join(codes)}" if codes else ""))
    return None


def _party_said(seen: _Column) -> str | None:
    """The one party an area column names in every row, if it does."""
    if seen.expected is not None:
        return seen.expected if seen.rows and not seen.off else None
    return next(iter(seen.values)) if len(seen.values) == 1 else None


def mismatches(path: Path, contract: Contract, period: str) -> list[str]:
    """Every way the rows of ``path`` contradict what the exchange declares (empty: none)."""
    expected = declared_values(contract, period)
    seen = {column: _Column(value) for column, value in expected.items()}
    for batch in _batches(Path(path), list(expected)):
        for name in batch.schema.names:
            seen[name].add(_as_text(batch.column(name)), batch.num_rows)
    problems = []
    for name, column in seen.items():
        if column.expected is None:
            problems += [p for p in [_consistency_problem(contract, name, column)] if p]
        elif column.off:
            problems.append(_describe(contract, name, column))
    areas = [_party_said(seen[c]) for c in AREA_ROLES if c in seen]
    if len(areas) == 2 and areas[0] is not None and areas[0] == areas[1]:
        problems.append(f"ref_area and counterpart_area both name {areas[0]}")
    return problems


def check_declared(path: Path, contract: Contract, period: str) -> None:
    """Raise DeclarationMismatch when any row of ``path`` contradicts the declared period or parties.

    Columns absent from the file are left to validation, which reports them; a column that
    cannot be read as text counts as mismatching in every row."""
    problems = mismatches(path, contract, period)
    if problems:
        raise DeclarationMismatch(
            f"{Path(path).name} does not hold what exchange {contract.id} {period} declares: "
            + "; ".join(problems),
            hint="the rows must be of the declared period, from the contract's sender to its recipient; "
                 "send each period's file under its own period",
            contract=contract.id, dataset=contract.dataset, period=period)
