"""Validate a Parquet file against its contract's GX 1.x suite; the report is plain data.

The file is read with pyarrow, one column at a time, and handed to GX as pandas with
nullable extension dtypes: strings stay Arrow-backed (``StringDtype("pyarrow")``: ``isin``
and regexes run in Arrow compute, nothing becomes Python objects), integers and booleans
become masked arrays (zero-copy data plus a validity mask), dates ``datetime64[ms]``.
Reading column by column, strings straight into the ``large_string`` pandas keeps them in,
holds one copy of the data plus one column in flight, never the whole table twice, and
hands the decoding buffers back before GX runs. GX's
context is set up once per process (``gx_context``) and reused by every validation.

A file is checked in one of two forms (``form=``):

* ``"exchanged"`` (the default): what is published and what the recipient receives. It
  must carry every column of the contract.
* ``"raw"``: the sender's input before disclosure control. Only here may the columns the
  contract marks ``addedByProtection`` (OBS_STATUS, CONF_STATUS) be absent; they are then
  added as all-null, so the one suite checks the rest of the raw file.

Contract patterns are ECMA-262 and reach GX already translated (exchange/contract/patterns.py).

Reports never carry record values when the contract's classification is ``children``
or ``personal``: GX runs with ``partial_unexpected_count: 0`` and the report keeps only
whitelisted counts and schema facts.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from exchange.contract.gx_import import import_great_expectations
from exchange.contract.model import Contract
from exchange.contract.suite import check_suite
from exchange.errors import ContractError

COUNT_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent")
# Expectations whose observed_value is a schema fact or a count, never a record value.
SAFE_OBSERVED = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_in_type_list",
        "expect_column_to_exist",
        "expect_column_unique_value_count_to_be_between",
        "expect_table_column_count_to_equal",
    }
)
ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}
# Expectation arguments kept in the report: contract facts (sets, bounds, patterns), never data.
PARAMETER_KEYS = ("column_set", "exact_match", "value_set", "min_value", "max_value", "regex",
                  "type_list", "type_", "column_list", "value")
PARTIAL_VALUES = 10
RAW, EXCHANGED = "raw", "exchanged"
FORMS = (RAW, EXCHANGED)


@dataclass
class ExpectationOutcome:
    """The result of one expectation: what was checked, whether it held, how many rows failed."""

    expectation: str
    column: str | None
    success: bool
    counts: dict[str, float] = field(default_factory=dict)
    observed: Any = None
    unexpected_sample: list[Any] | None = None
    error: str | None = None
    parameters: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """``expectation(column)`` for messages and summaries."""
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass
class ValidationReport:
    """What validating one file against one contract found; JSON-able via ``to_dict``."""

    contract_id: str
    contract_version: str
    contract_hash: str
    dataset: str
    classification: str
    file: str
    row_count: int
    outcomes: list[ExpectationOutcome]
    added_columns: list[str] = field(default_factory=list)
    form: str = EXCHANGED

    @property
    def success(self) -> bool:
        """True when every expectation held."""
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """The expectations that did not hold."""
        return [o for o in self.outcomes if not o.success]

    def in_words(self) -> list[str]:
        """One sentence per problem found (exchange/contract/outcome_words.py), no record values."""
        from exchange.contract.outcome_words import failure_sentences

        return failure_sentences(self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-able data (no record values for restricted data)."""
        data = asdict(self)
        data["success"] = self.success
        data["outcomes"] = [{k: v for k, v in o.items() if v is not None} for o in data["outcomes"]]
        return data

    def summary(self) -> dict[str, Any]:
        """A short form for manifests: contract, success, rows and the failed expectations."""
        return {
            "contract_id": self.contract_id,
            "contract_version": self.contract_version,
            "contract_hash": self.contract_hash,
            "success": self.success,
            "row_count": self.row_count,
            "evaluated": len(self.outcomes),
            "failed": [
                {"expectation": o.label, "unexpected_count": o.counts.get("unexpected_count")}
                for o in self.failed
            ],
        }


def _parquet(path: Path, contract: Contract, where: str):
    """The opened Parquet file; an empty, missing or corrupted file is a ContractError."""
    if not path.is_file():
        raise ContractError(f"{where}: no such file", hint="check the path")
    if path.stat().st_size == 0:
        raise ContractError(f"{where}: the file is empty (0 bytes)", hint="re-export the dataset as Parquet")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(where, contract, exc) from None


def _unreadable(where: str, contract: Contract, exc: Exception) -> ContractError:
    reason = type(exc).__name__ if contract.restricted else str(exc)[:200]
    return ContractError(f"{where}: not a readable Parquet file ({reason})",
                         hint="re-export the dataset as Parquet; the file may be truncated")


def read_frame(parquet_path: Path, contract: Contract, form: str = EXCHANGED) -> tuple[Any, int, list[str]]:
    """The Parquet file as a GX-friendly pandas frame, read one column at a time: (frame, rows,
    columns added). In the raw form, columns protection adds are added as nulls when absent
    (the exchanged form must carry them itself). An unreadable file is a ContractError."""
    import pandas as pd

    path = Path(parquet_path)
    where = f"{path} (dataset {contract.dataset}, contract {contract.id})"
    parquet = _parquet(path, contract, where)
    names = parquet.schema_arrow.names
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: some column names occur twice", hint="give every column its own name")
    rows = parquet.metadata.num_rows
    columns = {}
    for name in names:
        try:
            values = parquet.read(columns=[name]).column(0)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(where, contract, exc) from None
        if pa.types.is_string(values.type):
            values = values.cast(pa.large_string())  # what pandas keeps; cast here, the narrow copy goes now
        columns[name] = _to_pandas(values)
        del values
        pa.default_memory_pool().release_unused()  # the column's decode buffers: not kept for GX's peak
    added = []
    for column in contract.columns.values():
        if form == RAW and not column.required and column.name not in columns:
            columns[column.name] = _to_pandas(pa.chunked_array([pa.nulls(rows, ARROW_TYPES[column.type])]))
            added.append(column.name)
    return pd.DataFrame(columns, copy=False), rows, added


def _pandas_type(arrow_type: pa.DataType) -> Any:
    """pandas dtype GX handles fast for an Arrow column that has nulls (None: pyarrow's default)."""
    import pandas as pd

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_integer(arrow_type):
        sign = "UInt" if pa.types.is_unsigned_integer(arrow_type) else "Int"
        return pd.api.types.pandas_dtype(f"{sign}{arrow_type.bit_width}")
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    return None


def _to_pandas(values: pa.ChunkedArray) -> Any:
    """One column for GX: numpy for null-free numbers (GX vectorises ranges only for
    numpy ints/floats), arrow-backed strings, masked nullable types otherwise."""
    import pandas as pd

    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    if numeric and values.null_count == 0:
        return values.to_pandas()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    mapper = _pandas_type(values.type)
    return (
        values.to_pandas(types_mapper=lambda t: mapper, date_as_object=False)
        if mapper
        else pd.Series(values.to_pandas(date_as_object=False))
    )


_setting_up = threading.Lock()


def gx_context():
    """GX's ephemeral context and the whole-dataframe batch definition every validation uses:
    set up once per process (seconds: GX's import and context), then reused; a caller on
    another thread waits for the set-up under way."""
    with _setting_up:
        return _set_up()


@cache
def _set_up():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # GX logs hundreds of info lines while it imports; in an Airflow task each one goes
    # through the task log (seconds). Its warnings and errors still show.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    gx = import_great_expectations()  # without scipy.stats and SQLAlchemy up front
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory batch under 1 GB by hashing all its values (seconds
    # per million rows); the fingerprint only labels the batch, so switch it off.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("gcmx")
    return source.add_dataframe_asset("dataset").add_batch_definition_whole_dataframe("whole")


def warm_up() -> None:
    """Start setting GX up (seconds, once per process) on a thread of its own, and return.

    What validation needs before GX (pandas, pyarrow's conversion to it) is imported here
    first, so that reading the next file into a frame (or the Parquet guard's checks) runs
    beside GX's import instead of after it, and the two threads never import the same module
    at once. Threads take turns on the interpreter lock more often from then on (0.5 ms
    instead of 5), or the import would starve the other thread's many short pyarrow calls.
    Meant for the validation worker's process (exchange/contract/validation_worker.py)."""
    import pandas  # noqa: F401
    import pyarrow.pandas_compat  # noqa: F401

    if not any(thread.name == "gx-set-up" for thread in threading.enumerate()) and _set_up.cache_info().currsize == 0:
        sys.setswitchinterval(0.0005)
        threading.Thread(target=gx_context, name="gx-set-up", daemon=True).start()


def _suite(contract: Contract):
    gx = import_great_expectations()
    from exchange.contract.model import read_suite

    document = read_suite(contract.suite_path, contract.path)
    try:
        return gx.ExpectationSuite(name=document["name"], expectations=document["expectations"])
    except Exception as exc:  # GX raises many kinds for a bad expectation entry
        raise ContractError(
            f"{contract.suite_path}: GX cannot load the suite ({type(exc).__name__}: {str(exc)[:200]})",
            hint="fix the expectation named",
        ) from None


def _plain(value: Any) -> Any:
    """A JSON-able form of a sample value (pandas NA → None, numpy scalars → Python)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "item"):
        return value.item()
    return None if str(value) in ("<NA>", "NaT", "nan") else str(value)


def _outcome(result: Any, restricted: bool) -> ExpectationOutcome:
    config = result.expectation_config
    raw = result.result or {}
    outcome = ExpectationOutcome(
        expectation=config.type,
        column=config.kwargs.get("column"),
        success=bool(result.success),
        counts={k: raw[k] for k in COUNT_KEYS if raw.get(k) is not None},
        parameters={k: config.kwargs[k] for k in PARAMETER_KEYS if config.kwargs.get(k) is not None},
    )
    if config.type in SAFE_OBSERVED and "observed_value" in raw:
        outcome.observed = raw["observed_value"]
    if not restricted and raw.get("partial_unexpected_list"):
        outcome.unexpected_sample = [_plain(v) for v in raw["partial_unexpected_list"][:PARTIAL_VALUES]]
    info = result.exception_info or {}
    if info.get("raised_exception"):
        outcome.success = False
        outcome.error = (
            "could not be evaluated (missing or mistyped column?)"
            if restricted
            else str(info.get("exception_message"))[:200]
        )
    return outcome


def validate(parquet_path: Path, contract: Contract, form: str = EXCHANGED) -> ValidationReport:
    """Run the contract's suite on a Parquet file; failures are in the report, not raised.

    ``form`` is ``"exchanged"`` (published or received data: every contract column must be
    present) or ``"raw"`` (the sender's input before protection, which may lack the
    columns protection adds). Raises ContractError only when validation cannot run:
    unknown form, unreadable file, or a suite that does not agree with the contract.
    """
    if form not in FORMS:
        raise ContractError(f"validation form {form!r} is not one of {FORMS}", hint="pass raw or exchanged")
    check_suite(contract)
    frame, rows, added = read_frame(parquet_path, contract, form)
    count = 0 if contract.restricted else PARTIAL_VALUES
    result_format = {"result_format": "BASIC", "partial_unexpected_count": count}
    batch = gx_context().get_batch(batch_parameters={"dataframe": frame})
    results = batch.validate(_suite(contract), result_format=result_format)
    outcomes = [_outcome(r, contract.restricted) for r in results.results]
    return ValidationReport(
        contract_id=contract.id,
        contract_version=contract.version,
        contract_hash=contract.hash,
        dataset=contract.dataset,
        classification=contract.classification,
        file=Path(parquet_path).name,
        row_count=rows,
        outcomes=outcomes,
        added_columns=added,
        form=form,
    )
