"""Every expectation of one validation: its parameters, outcome and observed aggregates.

A validation document says *which* expectations held and on how many rows (the full
``validation.json`` lists every outcome, a manifest's or receipt's summary only the failed
ones); the parameters (allowed sets, bounds, patterns) live in the contract's suite. The
suite is joined only when the local contract has the very hash that was validated
(:func:`exchange.contract.model.contract_hash` covers the suite), so the parameters shown
are exactly the ones checked. Observed values are kept only where they are schema facts or
counts (column names, a row count, a dtype name): never a record value.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from exchange.contract.model import load_contract, read_suite
from exchange.errors import GcmxError
from exchange.report import views

LIST_SHOWN = 40
TEXT_LIMIT = 200
# Observed values that are counts or schema facts (cf. exchange/contract/validation.py SAFE_OBSERVED).
OBSERVED_COUNT = frozenset({"expect_table_row_count_to_be_between", "expect_column_unique_value_count_to_be_between",
                            "expect_table_column_count_to_equal"})
OBSERVED_NAME = frozenset({"expect_column_values_to_be_in_type_list"})
COLUMN_SET = "expect_table_columns_to_match_set"
Suites = tuple[tuple[Path, Path], ...]  # (contracts folder, expectations folder) to look suites up in


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _listed(values: list) -> str:
    shown = ", ".join(_text(v) for v in values[:LIST_SHOWN])
    return shown + (f", … ({len(values)} in all)" if len(values) > LIST_SHOWN else "")


def _bounds(kwargs: dict) -> str | None:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        return None
    below = "<" if kwargs.get("strict_max") else "≤"
    above = ">" if kwargs.get("strict_min") else "≥"
    if low is not None and high is not None:
        return f"{_text(low)} {'<' if kwargs.get('strict_min') else '≤'} value {below} {_text(high)}"
    return f"value {above} {_text(low)}" if low is not None else f"value {below} {_text(high)}"


def parameters(expectation: dict) -> list[tuple[str, str]]:
    """The expectation's parameters in words: ``[(what, value), ...]`` (column and meta left out)."""
    kwargs = expectation.get("kwargs") if isinstance(expectation.get("kwargs"), dict) else {}
    meta = expectation.get("meta") if isinstance(expectation.get("meta"), dict) else {}
    shown: list[tuple[str, str]] = []
    if isinstance(kwargs.get("value_set"), list):
        shown.append(("allowed values", _listed(kwargs["value_set"])))
    if isinstance(kwargs.get("column_set"), list):
        exact = "exactly" if kwargs.get("exact_match") else "at least"
        shown.append((f"columns ({exact})", _listed(kwargs["column_set"])))
    if isinstance(kwargs.get("type_list"), list):
        shown.append(("type one of", _listed(kwargs["type_list"])))
    bounds = _bounds(kwargs)
    if bounds:
        shown.append(("rows" if "row_count" in str(expectation.get("type")) else "bounds", bounds))
    if isinstance(meta.get("ecmaPattern"), str):
        shown.append(("pattern (ECMA-262)", _text(meta["ecmaPattern"])))
    elif isinstance(kwargs.get("regex"), str):
        shown.append(("pattern", _text(kwargs["regex"])))
    for key in ("column_list", "column_A", "column_B", "row_condition", "value", "mostly"):
        if kwargs.get(key) is not None:
            value = kwargs[key]
            shown.append((key.replace("_", " "), _listed(value) if isinstance(value, list) else _text(value)))
    return shown


@lru_cache(maxsize=64)
def load_suite(contract_id: str | None, contract_hash: str | None,
               sources: tuple[tuple[Path, Path], ...]) -> dict | None:
    """The suite of ``contract_id`` from the first contracts folder whose contract has ``contract_hash``."""
    if not contract_id or not contract_hash:
        return None
    for contracts, expectations in sources:
        try:
            contract = load_contract(contract_id, contracts, expectations)
            if contract.hash != contract_hash:
                continue
            suite = read_suite(contract.suite_path, contract.path)
        except (GcmxError, OSError, ValueError):
            continue
        meta = suite.get("meta") if isinstance(suite.get("meta"), dict) else {}
        return {
            "name": views.name(suite.get("name")),
            "version": views.name(meta.get("contract_version")) or views.name(contract.version),
            "gx_version": views.name(meta.get("great_expectations_version")),
            "expectations": [e for e in suite["expectations"] if isinstance(e, dict)],
        }
    return None


def _key(kind: Any, column: Any) -> tuple[str, str | None]:
    return (kind if isinstance(kind, str) else "?", column if isinstance(column, str) else None)


def _observed(outcome: dict, kind: str) -> str | None:
    observed = outcome.get("observed")
    if kind in OBSERVED_COUNT and views.count(observed) is not None:
        return f"{views.count(observed):,}"
    if kind in OBSERVED_NAME and views.name(observed):
        return views.name(observed)
    if kind == COLUMN_SET and isinstance(observed, list):
        return f"{len(observed):,} columns"
    return None


def column_mismatch(outcome: dict, params: dict) -> tuple[list[str], list[str]]:
    """(missing, extra) column names of a failed column-set expectation (names only)."""
    observed, expected = outcome.get("observed"), params.get("column_set")
    if not isinstance(observed, list) or not isinstance(expected, list):
        return [], []
    seen = {c for c in map(views.name, observed) if c}
    wanted = {c for c in map(views.name, expected) if c}
    return sorted(wanted - seen), (sorted(seen - wanted) if params.get("exact_match", True) else [])


def _row(kind: str, column: str | None, expectation: dict | None, outcome: dict | None,
         failed: dict | None, summary_only: bool, row_count: int | None = None) -> dict:
    counts = (outcome or {}).get("counts") if isinstance((outcome or {}).get("counts"), dict) else {}
    if outcome is not None:
        state = "passed" if outcome.get("success") is True else (
            "not evaluated" if outcome.get("error") else "failed")
    elif failed is not None:
        state = "failed"
    else:
        state = "passed" if summary_only else "not recorded"
    failing = views.count(counts.get("unexpected_count"))
    if failed is not None and failing is None:
        failing = views.count(failed.get("unexpected_count"))
    per_row = kind.startswith("expect_column_values_") or kind.startswith("expect_compound_")
    if failing is None and state == "passed" and per_row and not (expectation or {}).get("kwargs", {}).get("mostly"):
        failing = 0  # a row-by-row expectation without ``mostly`` holds only when no row fails
    return {
        "expectation": kind,
        "column": column,
        "parameters": parameters(expectation) if expectation else [],
        "outcome": state,
        "failing_rows": failing,
        "failing_share": views.ratio(counts.get("unexpected_percent")),
        # a summary keeps no per-expectation counts: a row-by-row expectation checked every row
        "rows_checked": views.count(counts.get("element_count")) if outcome is not None else (
            row_count if per_row and summary_only else None),
        "missing_values": views.count(counts.get("missing_count")),
        "observed": _observed(outcome or {}, kind),
        "table_level": not per_row and not kind.startswith("expect_column_"),
    }


def expectation_rows(document: dict, suite: dict | None) -> tuple[list[dict], list[str], list[str]]:
    """Every expectation of ``document`` (full report or summary), joined with ``suite``: (rows, missing, extra)."""
    outcomes = [o for o in document.get("outcomes") or [] if isinstance(o, dict)] \
        if isinstance(document.get("outcomes"), list) else None
    failed_raw = document.get("failed") if isinstance(document.get("failed"), list) else []
    failed: dict[tuple, list[dict]] = defaultdict(list)
    for f in failed_raw:
        label = f.get("expectation") if isinstance(f, dict) else f
        match = views.LABEL.match(label) if isinstance(label, str) else None
        if match:
            failed[_key(match.group(1), match.group(2))].append(f if isinstance(f, dict) else {})
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    for o in outcomes or []:
        by_key[_key(o.get("expectation"), o.get("column"))].append(o)
    rows, missing, extra = [], [], []
    expectations = (suite or {}).get("expectations") or []
    # A summary lists only the failed expectations; the rest held when it evaluated exactly the suite.
    summary_only = outcomes is None and bool(expectations) and views.count(document.get("evaluated")) == len(
        expectations)
    for expectation in expectations:
        kwargs = expectation.get("kwargs") if isinstance(expectation.get("kwargs"), dict) else {}
        key = _key(expectation.get("type"), kwargs.get("column"))
        outcome = by_key[key].pop(0) if by_key.get(key) else None
        failure = failed[key].pop(0) if failed.get(key) else None
        rows.append(_row(key[0], views.name(key[1]), expectation, outcome, failure, summary_only,
                         views.count(document.get("row_count"))))
        if key[0] == COLUMN_SET and outcome and outcome.get("success") is not True:
            missing, extra = column_mismatch(outcome, kwargs)
    for key, left in list(by_key.items()) + list(failed.items()):
        for item in left:  # recorded but not (or no longer) in the suite: shown without parameters
            is_outcome = "success" in item
            rows.append(_row(views.name(key[0]) or "unnamed expectation", views.name(key[1]), None,
                             item if is_outcome else None, None if is_outcome else item, False))
    if not missing:
        missing = sorted({r["column"] for r in rows if r["expectation"] == "expect_column_to_exist"
                          and r["outcome"] in ("failed", "not evaluated") and r["column"]})
    return rows, missing, extra


def mismatch_words(missing: list[str], extra: list[str]) -> str | None:
    """``column `workers` is missing; column `passport_no` is not in the contract`` (None if neither)."""
    parts = [f"column `{c}` is missing" for c in missing] + [f"column `{c}` is not in the contract" for c in extra]
    return "; ".join(parts) if parts else None


def check_view(document: Any, where: str, suites: Suites) -> dict | None:
    """:func:`views.validation_view` plus every expectation, with the parameters of the suite validated."""
    if not isinstance(document, dict):
        return None
    view = views.validation_view(document, where)
    if view is None:
        return None
    suite = load_suite(views.name(document.get("contract_id")), views.hexdigest(document.get("contract_hash")),
                       suites)
    rows, missing, extra = expectation_rows(document, suite)
    view.update(suite={k: v for k, v in (suite or {}).items() if k != "expectations"} or None,
                expectations=rows, columns=mismatch_words(missing, extra))
    return view
