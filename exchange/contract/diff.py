"""Classify every change between two versions of a contract as breaking or not.

Breaking: a column removed or renamed, a required column added, a type changed,
nullability tightened, a code list / range / pattern changed, uniqueness added, the
period, parties, classification or disclosure rules changed, a hand-written
expectation added. Not breaking: an optional column added, nullability relaxed,
descriptions, schedule, retention or other prose changed, an expectation removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exchange.canonical import canonical_json
from exchange.contract.model import Column, columns_from_document, custom_properties
from exchange.contract.suite import GOVERNED

BREAKING_TERMS = ("sender", "recipients", "period", "classification", "disclosure")


@dataclass(frozen=True)
class Change:
    """One difference between two contract versions."""

    breaking: bool
    where: str
    message: str

    def __str__(self) -> str:
        return f"{'BREAKING' if self.breaking else 'ok      '}  {self.where}: {self.message}"


def _column_changes(name: str, old: Column, new: Column) -> list[Change]:
    changes = []
    where = f"column {name}"
    if old.type != new.type or old.physical_type != new.physical_type:
        changes.append(
            Change(True, where, f"type {old.type}/{old.physical_type} -> {new.type}/{new.physical_type}")
        )
    if old.nullable and not new.nullable:
        changes.append(Change(True, where, "nullability tightened (nulls no longer allowed)"))
    elif new.nullable and not old.nullable:
        changes.append(Change(False, where, "nullability relaxed (nulls now allowed)"))
    if old.required != new.required:
        message = "column now required in every file" if new.required else "column may now be absent"
        changes.append(Change(new.required, where, message))
    if old.codelist != new.codelist:
        removed = sorted(set(old.codelist or ()) - set(new.codelist or ()))
        added = sorted(set(new.codelist or ()) - set(old.codelist or ()))
        changes.append(Change(True, where, f"code list changed (removed {removed}, added {added})"))
    for attribute in ("minimum", "maximum", "pattern"):
        if getattr(old, attribute) != getattr(new, attribute):
            changes.append(
                Change(True, where, f"{attribute} {getattr(old, attribute)!r} -> {getattr(new, attribute)!r}")
            )
    if new.unique and not old.unique:
        changes.append(Change(True, where, "uniqueness added"))
    elif old.unique and not new.unique:
        changes.append(Change(False, where, "uniqueness dropped"))
    if old.description != new.description:
        changes.append(Change(False, where, "description changed"))
    return changes


def _same_shape(old: Column, new: Column) -> bool:
    return (old.type, old.codelist, old.nullable) == (new.type, new.codelist, new.nullable)


def _schema_changes(old_doc: dict[str, Any], new_doc: dict[str, Any]) -> list[Change]:
    old, new = columns_from_document(old_doc), columns_from_document(new_doc)
    changes = []
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    for name in removed:
        twin = next((a for a in added if _same_shape(old[name], new[a])), None)
        message = f"renamed to {twin}" if twin else "removed"
        changes.append(Change(True, f"column {name}", message))
    for name in added:
        column = new[name]
        optional = column.nullable or not column.required
        changes.append(
            Change(
                not optional,
                f"column {name}",
                "added as optional" if optional else "added as required (old files lack it)",
            )
        )
    for name in old:
        if name in new:
            changes.extend(_column_changes(name, old[name], new[name]))
    return changes


def _term_changes(old_doc: dict[str, Any], new_doc: dict[str, Any]) -> list[Change]:
    old, new = custom_properties(old_doc), custom_properties(new_doc)
    changes = []
    for term in sorted(set(old) | set(new)):
        if canonical_json(old.get(term)) != canonical_json(new.get(term)):
            changes.append(
                Change(
                    term in BREAKING_TERMS,
                    f"term {term}",
                    f"{_short(old.get(term))} -> {_short(new.get(term))}",
                )
            )
    for key in ("description", "name", "tags", "status"):
        if canonical_json(old_doc.get(key)) != canonical_json(new_doc.get(key)):
            changes.append(Change(False, key, "changed"))
    return changes


def _short(value: Any) -> str:
    text = canonical_json(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _extra_expectations(suite: dict[str, Any] | None) -> set[bytes]:
    if not suite:
        return set()
    return {
        canonical_json({"type": e.get("type"), "kwargs": e.get("kwargs")})
        for e in suite.get("expectations", [])
        if e.get("type") not in GOVERNED or (e.get("kwargs") or {}).get("row_condition")
    }


def _suite_changes(old_suite: dict[str, Any] | None, new_suite: dict[str, Any] | None) -> list[Change]:
    old, new = _extra_expectations(old_suite), _extra_expectations(new_suite)
    changes = [Change(True, "suite", f"expectation added: {_short_bytes(e)}") for e in sorted(new - old)]
    changes += [Change(False, "suite", f"expectation removed: {_short_bytes(e)}") for e in sorted(old - new)]
    return changes


def _short_bytes(value: bytes) -> str:
    text = value.decode()
    return text if len(text) <= 100 else text[:97] + "..."


def diff_contracts(
    old_doc: dict[str, Any],
    new_doc: dict[str, Any],
    old_suite: dict[str, Any] | None = None,
    new_suite: dict[str, Any] | None = None,
) -> list[Change]:
    """Every change from ``old_doc`` to ``new_doc`` (and their suites, when given)."""
    changes = _schema_changes(old_doc, new_doc) + _term_changes(old_doc, new_doc)
    changes += _suite_changes(old_suite, new_suite)
    old_major = str(old_doc.get("version", "0")).split(".")[0]
    new_major = str(new_doc.get("version", "0")).split(".")[0]
    if any(c.breaking for c in changes) and old_major == new_major:
        changes.append(
            Change(
                True,
                "version",
                f"{old_doc.get('version')} -> {new_doc.get('version')}: "
                "breaking changes need a new major version",
            )
        )
    return changes
