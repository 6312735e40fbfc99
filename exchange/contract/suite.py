"""Contract ↔ expectation-suite consistency.

The suite is the executable side of a contract. From the contract we *derive* the
expectations it implies (column exists, type, nullability, codelist, range, pattern,
uniqueness, exact column set, non-empty table); the suite must hold exactly these for
every governed expectation type. A pattern is ECMA-262 (ODCS); its expectation holds the
Python regex with the same meaning (exchange/contract/patterns.py), so a suite still carrying the
contract's pattern verbatim is out of date. Other, hand-written expectations (including governed
types restricted by a ``row_condition``) (cross-column rules,
period bounds) are kept, provided they only name columns the contract has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

from exchange.contract.model import Column, Contract, read_suite
from exchange.contract.patterns import ecma_to_python
from exchange.errors import ContractError

# Type names GX 1.x accepts for the pandas dtypes the validator feeds it: arrow-backed
# StringDtype; numpy int/float when a numeric column has no nulls, else Int64Dtype & co.
INTEGER_TYPES = [f"{sign}{bits}" for sign in ("Int", "UInt", "int", "uint") for bits in (8, 16, 32, 64)]
INTEGER_TYPES = [name + "Dtype" if name[0].isupper() else name for name in INTEGER_TYPES]
DATETIME_TYPES = [f"datetime64[{unit}]" for unit in ("s", "ms", "us", "ns")]
TYPE_LISTS: dict[str, list[str]] = {
    "string": ["StringDtype"],
    "integer": INTEGER_TYPES,
    "number": ["Float32Dtype", "Float64Dtype", "float32", "float64", *INTEGER_TYPES],
    "boolean": ["BooleanDtype", "bool"],
    "date": DATETIME_TYPES,
    "timestamp": DATETIME_TYPES,
}

GOVERNED = (
    "expect_table_columns_to_match_set",
    "expect_table_row_count_to_be_between",
    "expect_column_to_exist",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_unique",
)
COLUMN_KEYS = ("column", "column_A", "column_B")
STALE_REGEX = (
    "; the suite is out of date: it evaluates the contract's ECMA-262 pattern with Python's "
    "regex rules ($ before a trailing newline, Unicode \\d), regenerate it"
)
COLUMN_LIST_KEYS = ("column_list", "column_set")


def _expectation(kind: str, meta: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"source": "contract", **(meta or {})}}


def pattern_expectation(column: Column) -> dict[str, Any]:
    """The regex expectation of a column's ECMA-262 pattern, translated so that GX's Python
    regex accepts exactly what the pattern accepts (exchange/contract/patterns.py)."""
    try:
        regex = ecma_to_python(column.pattern)
    except ContractError as exc:
        raise ContractError(f"column {column.name}: {exc.message}", hint=exc.hint) from None
    return _expectation(
        "expect_column_values_to_match_regex", {"ecmaPattern": column.pattern}, column=column.name, regex=regex
    )


def column_expectations(column: Column) -> list[dict[str, Any]]:
    """The expectations one contract column implies."""
    name = column.name
    if column.type not in TYPE_LISTS:
        raise ContractError(
            f"column {name}: logical type {column.type!r} is not supported",
            hint=f"use one of {sorted(TYPE_LISTS)}",
        )
    found = [
        _expectation("expect_column_to_exist", column=name),
        _expectation(
            "expect_column_values_to_be_in_type_list", column=name, type_list=TYPE_LISTS[column.type]
        ),
    ]
    if not column.nullable:
        found.append(_expectation("expect_column_values_to_not_be_null", column=name))
    if column.codelist is not None:
        found.append(
            _expectation("expect_column_values_to_be_in_set", column=name, value_set=list(column.codelist))
        )
    if column.minimum is not None or column.maximum is not None:
        found.append(
            _expectation(
                "expect_column_values_to_be_between",
                column=name,
                min_value=column.minimum,
                max_value=column.maximum,
            )
        )
    if column.pattern is not None:
        found.append(pattern_expectation(column))
    if column.unique:
        found.append(_expectation("expect_column_values_to_be_unique", column=name))
    return found


def derive_expectations(columns: Mapping[str, Column]) -> list[dict[str, Any]]:
    """Every governed expectation a contract's columns imply, in a stable order."""
    derived = [
        _expectation("expect_table_columns_to_match_set", column_set=list(columns), exact_match=True),
        _expectation("expect_table_row_count_to_be_between", min_value=1, max_value=None),
    ]
    for column in columns.values():
        derived.extend(column_expectations(column))
    return derived


def suite_document(
    contract_id: str, version: str, columns: Mapping[str, Column], extras: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A GX 1.x suite JSON document for a contract: derived expectations plus ``extras``."""
    return {
        "name": f"{contract_id}-{version}",
        "expectations": derive_expectations(columns) + list(extras),
        "meta": {
            "great_expectations_version": metadata.version("great_expectations"),
            "contract_id": contract_id,
            "contract_version": version,
        },
        "notes": f"Executable side of contract {contract_id} v{version}; check with `gcmx contract check`.",
    }


def _normalise(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normalise(v) for v in value), key=repr)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _key(expectation: dict[str, Any]) -> tuple[str, str | None]:
    return expectation.get("type", "?"), expectation.get("kwargs", {}).get("column")


def _kwargs(expectation: dict[str, Any]) -> dict[str, Any]:
    kwargs = expectation.get("kwargs", {})
    return {k: _normalise(v) for k, v in kwargs.items() if v is not None and k != "result_format"}


def _named_columns(expectation: dict[str, Any]) -> list[str]:
    kwargs = expectation.get("kwargs", {})
    names = [kwargs[k] for k in COLUMN_KEYS if k in kwargs]
    for key in COLUMN_LIST_KEYS:
        names.extend(kwargs.get(key) or [])
    return names


def _describe_difference(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    parts = []
    for key in sorted(set(expected) | set(actual)):
        want, have = expected.get(key), actual.get(key)
        if want == have:
            continue
        if isinstance(want, list) and isinstance(have, list):
            lacks = [v for v in want if v not in have]
            extra = [v for v in have if v not in want]
            parts.append(f"{key}: suite lacks {lacks}, has extra {extra}")
        else:
            parts.append(f"{key}: contract says {want!r}, suite says {have!r}")
    return "; ".join(parts)


def _untranslated(contract: Contract, expectation: dict[str, Any]) -> bool:
    """True when a suite's regex is its column's ECMA pattern copied verbatim."""
    column = contract.columns.get((expectation.get("kwargs") or {}).get("column"))
    return column is not None and expectation["kwargs"].get("regex") == column.pattern


def suite_problems(contract: Contract, suite: dict[str, Any]) -> list[str]:
    """Every disagreement between a contract and a suite document, as readable lines."""
    problems = []
    if suite.get("name") != contract.suite_name:
        problems.append(
            f"suite name {suite.get('name')!r} should be {contract.suite_name!r} "
            f"(a suite for another contract or version)"
        )
    meta = suite.get("meta") or {}
    for key, want in (("contract_id", contract.id), ("contract_version", contract.version)):
        if key in meta and meta[key] != want:
            problems.append(f"suite meta {key} is {meta[key]!r}, contract has {want!r}")
    actual: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for expectation in suite["expectations"]:
        for name in _named_columns(expectation):
            if name not in contract.columns:
                problems.append(f"{expectation.get('type')} names column {name!r}, which the contract lacks")
        conditional = (expectation.get("kwargs") or {}).get("row_condition")
        if expectation.get("type") in GOVERNED and not conditional:
            actual[_key(expectation)].append(expectation)
    derived = {_key(e): e for e in derive_expectations(contract.columns)}
    for key, expected in derived.items():
        kind, column = key
        where = f"column {column!r}: " if column else ""
        found = actual.pop(key, [])
        if not found:
            problems.append(f"{where}suite lacks {kind}")
            continue
        if len(found) > 1:
            problems.append(f"{where}suite has {len(found)} copies of {kind}")
        difference = _describe_difference(_kwargs(expected), _kwargs(found[0]))
        if difference:
            stale = kind == "expect_column_values_to_match_regex" and _untranslated(contract, found[0])
            problems.append(f"{where}{kind} differs ({difference})" + (STALE_REGEX if stale else ""))
    for (kind, column), _ in actual.items():
        if column in contract.columns or column is None:
            problems.append(
                f"column {column!r}: suite has {kind} the contract does not imply"
                if column
                else f"suite has {kind} the contract does not imply"
            )
    return problems


def check_suite(contract: Contract) -> None:
    """Raise ContractError listing every drift between the contract and its suite file."""
    suite = read_suite(contract.suite_path, contract.path)
    problems = suite_problems(contract, suite)
    if problems:
        listing = "; ".join(problems[:8]) + (f" (+{len(problems) - 8} more)" if len(problems) > 8 else "")
        raise ContractError(
            f"dataset {contract.dataset}: suite {contract.suite_path} disagrees with contract "
            f"{contract.path}: {listing}",
            hint="bring the suite in line with the contract (`python -m exchange.devkit.contract_generator "
            "--suites-only` regenerates the derived part) or change the contract and its version",
        )
