"""Check a received Parquet file against its signed manifest before reading its data.

The file was written by the signed sender, but a partner with valid keys can still send a
decompression bomb: a few KiB that declare a handful of rows and decode to gigabytes.
Before any validation reads it, the footer (row count, row groups, columns, declared
uncompressed size) is checked against the manifest and :mod:`exchange.protocol.limits`, then
one streaming pass adds up what the data decodes to, without materialising repeated
dictionary values, and stops as soon as the sum is over the limit.

Both run in a separate (spawned, reused) process, the validation worker's
(exchange/contract/validation_worker.py): a malformed footer can crash the Parquet library
itself (a C++ abort, found by the property test), which must end in a rejection of that one
exchange, never in the death of the pull that would block every later one.
"""

from __future__ import annotations

import struct
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exchange.contract.validation_worker import worker
from exchange.errors import ProtocolError
from exchange.protocol.limits import (
    PARQUET_COLUMNS_MAX,
    PARQUET_DECODED_ROW_MAX,
    PARQUET_EXPANSION_MAX,
    PARQUET_FOOTER_MAX,
    PARQUET_ROW_GROUPS_MAX,
    PARQUET_UNCOMPRESSED_MAX,
)

BATCH_ROWS = 64 * 1024
_HINT = "quarantined unread: the file is malformed or a decompression bomb; tell the sender"


def _refuse(where: str, what: str) -> ProtocolError:
    return ProtocolError(f"{where}: Parquet {what}", hint=_HINT)


def _footer_length(path: Path, where: str) -> int:
    size = path.stat().st_size
    with path.open("rb") as src:
        head = src.read(4)
        src.seek(max(size - 8, 0))
        tail = src.read(8)
    if size < 12 or head != b"PAR1" or tail[4:] != b"PAR1":
        raise _refuse(where, "magic bytes missing (not a Parquet file)")
    length = struct.unpack("<I", tail[:4])[0]
    if length > min(PARQUET_FOOTER_MAX, size - 12):
        raise _refuse(where, f"footer of {length} bytes is larger than allowed or than the file")
    return length


def check_footer(path: Path, rows: int, where: str) -> None:
    """Check the metadata of ``path`` against the signed ``rows`` and the limits."""
    _footer_length(path, where)
    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _refuse(where, f"footer unreadable ({type(exc).__name__})") from None
    if meta.num_rows != rows:
        raise _refuse(where, f"holds {meta.num_rows} rows, the signed manifest says {rows}")
    if meta.num_row_groups > PARQUET_ROW_GROUPS_MAX or meta.num_columns > PARQUET_COLUMNS_MAX:
        raise _refuse(where, f"has {meta.num_row_groups} row groups and {meta.num_columns} columns "
                             f"(limits {PARQUET_ROW_GROUPS_MAX}, {PARQUET_COLUMNS_MAX})")
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    if sum(g.num_rows for g in groups) != rows or any(g.num_rows < 0 for g in groups):
        raise _refuse(where, "row groups do not add up to the row count")
    declared = sum(max(g.column(j).total_uncompressed_size, 0) for g in groups for j in range(g.num_columns))
    limit = min(PARQUET_EXPANSION_MAX * path.stat().st_size, PARQUET_UNCOMPRESSED_MAX)
    if declared > limit:
        raise _refuse(where, f"declares {declared} bytes uncompressed, over the limit of {limit} "
                             f"({PARQUET_EXPANSION_MAX} × its size)")


def _decoded_size(column: pa.Array) -> int:
    if pa.types.is_dictionary(column.type) and not pa.types.is_primitive(column.type.value_type):
        lengths = pc.binary_length(column.dictionary).cast(pa.int64())
        taken = pc.sum(pc.take(lengths, column.indices)).as_py() or 0
        return taken + 4 * len(column)
    return column.nbytes


def check_decoded_size(path: Path, rows: int, where: str) -> int:
    """Stream the file once and sum what it decodes to; ProtocolError once it exceeds the limit.

    Text columns are read dictionary-encoded and measured by the lengths their indices pick,
    so a bomb made of one huge repeated value is never expanded in memory.
    """
    limit = min(max(rows, 1) * PARQUET_DECODED_ROW_MAX, PARQUET_UNCOMPRESSED_MAX)
    total = 0
    try:
        schema = pq.read_schema(path)
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)
                or pa.types.is_large_string(f.type) or pa.types.is_large_binary(f.type)]
        for batch in pq.ParquetFile(path, read_dictionary=text).iter_batches(batch_size=BATCH_ROWS):
            total += sum(_decoded_size(column) for column in batch.columns)
            if total > limit:
                raise _refuse(where, f"decodes to more than {limit} bytes "
                                     f"({PARQUET_DECODED_ROW_MAX} per signed row)")
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _refuse(where, f"data unreadable ({type(exc).__name__})") from None
    return total


def _check_here(path: str, rows: int, where: str) -> str | None:
    """Inside the validation worker's process: the problem found, or None."""
    try:
        check_footer(Path(path), rows, where)
        check_decoded_size(Path(path), rows, where)
    except ProtocolError as exc:
        return exc.message
    return None


def check_parquet(path: Path, rows: int, where: str) -> None:
    """Footer, then decoded size: both within the signed manifest and the limits, or
    ProtocolError; checked in the validation worker's process, which a malformed file may crash.

    That process also sets GX up, so it may die of something else while checking (killed,
    out of memory): the file is checked once more in a new one and refused only if it crashes
    that one too."""
    for attempt in (1, 2):
        try:
            problem = worker.submit(_check_here, str(path), rows, where).result()
            break
        except BrokenProcessPool:  # the worker is replaced by the next call
            if attempt == 2:
                raise _refuse(where, "crashed the Parquet reader twice (a malformed footer or page)") from None
    if problem:
        raise ProtocolError(problem, hint=_HINT)
