"""Value-free views of the documents the report shows: validation, disclosure, reasons.

Everything the report prints passes through a whitelist here. Validation and disclosure
documents are written by other modules and may grow; only counts, booleans, schema names
(expectation types, column names) and protocol ids come through, so a record value of
children's data can never reach the HTML even if a future document carries one
(``unexpected_sample``, ``observed``, exception texts are dropped on purpose).
"""

from __future__ import annotations

import re
from typing import Any

# An expectation label as ``ValidationReport.summary()`` writes it: ``type`` or ``type(column)``.
LABEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\(([A-Za-z0-9_. -]{1,80})\))?$")
_NAME = re.compile(r"^[A-Za-z0-9_.:@+ -]{1,120}$")
DISCLOSURE_COUNTS = (
    "cellsTotal",
    "cellsSuppressed",
    "cellsPrimarySuppressed",
    "cellsSecondarySuppressed",
    "recordsTotal",
    "recordsGeneralised",
    "recordsSuppressed",
    "valuesSuppressed",
    "kReached",
)
DISCLOSURE_RULES = ("minimumCellSize", "k")
DISCLOSURE_AUDIT = (
    "suppressedCells",
    "provenCells",
    "failedCells",
    "publishedBelowMinimum",
)
REASON_LIMIT = 400


def count(value: Any) -> int | None:
    """An integer count, or None for anything else (text, bools, negative numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def ratio(value: Any) -> float | None:
    """A finite non-negative number (percentages, information loss), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < float("inf") else None


def flag(value: Any) -> bool | None:
    """True / False, or None when the document does not say."""
    return value if isinstance(value, bool) else None


def name(value: Any) -> str | None:
    """A schema or protocol name (ids, codes, versions, column names); anything else is dropped."""
    return value if isinstance(value, str) and _NAME.match(value) else None


def hexdigest(value: Any) -> str | None:
    """A lower-case hex digest or key id, else None."""
    return value if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{8,128}", value) else None


def reason(value: Any) -> str | None:
    """A rejection reason: exchange error messages, which never carry record values."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join(value.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def _failed_entry(expectation: Any, column: Any, counts: dict) -> dict:
    label = expectation if isinstance(expectation, str) else ""
    match = LABEL.match(label)
    kind = match.group(1) if match else "unnamed expectation"
    column = name(column) or (match.group(2) if match else None)
    return {
        "expectation": kind,
        "column": column,
        "unexpected_count": count(counts.get("unexpected_count")),
        "unexpected_percent": ratio(counts.get("unexpected_percent")),
        "element_count": count(counts.get("element_count")),
        "not_evaluated": bool(counts.get("error")),
    }


def validation_view(document: Any, where: str) -> dict | None:
    """A validation summary or full report as ``{where, success, evaluated, passed, failed, ...}``.

    Accepts ``ValidationReport.summary()`` (manifests, receipts) and ``.to_dict()``
    (validation.json); ``where`` says who validated (sender, recipient, ...).
    """

    if not isinstance(document, dict) or not document:
        return None
    outcomes = document.get("outcomes")
    if isinstance(outcomes, list):
        failed = [
            _failed_entry(
                o.get("expectation"), o.get("column"), {**(o.get("counts") or {}), "error": o.get("error")}
            )
            for o in outcomes
            if isinstance(o, dict) and o.get("success") is not True
        ]
        evaluated = len(outcomes)
    else:
        raw = document.get("failed") or []
        failed = [
            _failed_entry(f.get("expectation"), f.get("column"), f)
            if isinstance(f, dict)
            else _failed_entry(f, None, {})
            for f in (raw if isinstance(raw, list) else [])
        ]
        evaluated = count(document.get("evaluated"))
    success = flag(document.get("success"))
    if success is None and evaluated is not None:
        success = not failed
    return {
        "where": where,
        "success": success,
        "evaluated": evaluated,
        "passed": evaluated - len(failed) if evaluated is not None and evaluated >= len(failed) else None,
        "row_count": count(document.get("row_count")),
        "failed": failed,
        "contract_id": name(document.get("contract_id")),
        "contract_version": name(document.get("contract_version")),
        "detail": "every outcome" if isinstance(outcomes, list) else "failed expectations only",
    }


def disclosure_view(document: Any) -> dict | None:
    """Counts of what disclosure control did (``DisclosureReport.to_dict()``), nothing else."""
    if not isinstance(document, dict) or not document:
        return None
    rules = document.get("rules") if isinstance(document.get("rules"), dict) else {}
    audit = document.get("audit") if isinstance(document.get("audit"), dict) else None
    view: dict[str, Any] = {key: count(document.get(key)) for key in DISCLOSURE_COUNTS}
    view["method"] = name(document.get("method")) or name(rules.get("method"))
    view["informationLoss"] = ratio(document.get("informationLoss"))
    view["rules"] = {key: count(rules.get(key)) for key in DISCLOSURE_RULES}
    view["quasiIdentifiers"] = [n for n in map(name, rules.get("quasiIdentifiers") or []) if n]
    view["pseudonymised"] = [n for n in map(name, document.get("columnsPseudonymised") or []) if n]
    levels = rules.get("protectionLevels") if isinstance(rules.get("protectionLevels"), dict) else {}
    view["rules"]["protectionLower"] = count(levels.get("lower"))
    view["rules"]["protectionUpper"] = count(levels.get("upper"))
    primary, secondary = view["cellsPrimarySuppressed"], view["cellsSecondarySuppressed"]
    if view["cellsSuppressed"] is None and (primary is not None or secondary is not None):
        view["cellsSuppressed"] = (primary or 0) + (secondary or 0)
    view["audit"] = (
        None
        if audit is None
        else {"ok": flag(audit.get("ok")), **{key: count(audit.get(key)) for key in DISCLOSURE_AUDIT}}
    )
    view.update(suppression_breakdown(document))
    view["suppressedText"] = suppressed_text(view)
    return view


def suppressed_text(view: dict) -> str | None:
    """What was suppressed, with its unit: ``249 cells`` or ``233 records (243 values)``."""
    if view.get("cellsSuppressed") is not None:
        return f"{view['cellsSuppressed']:,} cells"
    if view.get("recordsSuppressed") is not None:
        values = view.get("valuesSuppressed")
        return f"{view['recordsSuppressed']:,} records" + (f" ({values:,} values)" if values is not None else "")
    return None


def _key_text(key: Any) -> str:
    pairs = key.items() if isinstance(key, dict) else ()
    return ", ".join(f"{name(k)}={name(v) if name(v) else '?'}" for k, v in pairs if name(k)) or "whole table"


def suppression_breakdown(document: dict) -> dict:
    """Suppressed cells per table and rule and per dimension code (aggregates, the sender's own
    report), and suppressed values per quasi-identifier (records); counts and codes only."""
    tables, by_dimension = [], {}
    for table in document.get("tables") or []:
        if not isinstance(table, dict):
            continue
        primary, secondary = count(table.get("primarySuppressed")), count(table.get("secondarySuppressed"))
        tables.append({"key": _key_text(table.get("key")), "cells": count(table.get("cells")),
                       "primary": primary, "secondary": secondary,
                       "suppressed": None if primary is None else primary + (secondary or 0)})
        dims = table.get("suppressedByDimension") if isinstance(table.get("suppressedByDimension"), dict) else {}
        for dimension, codes in dims.items():
            for code, cells in (codes.items() if isinstance(codes, dict) else ()):
                if name(dimension) and name(code) and count(cells) is not None:
                    by_dimension[(dimension, code)] = by_dimension.get((dimension, code), 0) + count(cells)
    per_column = document.get("valuesSuppressedByColumn")
    values = [{"column": column, "values": count(n)} for column, n in
              (per_column.items() if isinstance(per_column, dict) else ()) if name(column) and count(n) is not None]
    return {
        "tables": tables,
        "byDimension": [{"dimension": d, "code": c, "cells": n} for (d, c), n in sorted(by_dimension.items())],
        "valuesByColumn": values,
    }
