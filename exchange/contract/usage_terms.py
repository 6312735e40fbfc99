"""Retention, purpose and prohibited uses: the terms that bind the recipient, machine-readable.

A contract states them in ODCS v3 fields, read here once (for :mod:`exchange.contract.terms`)::

    slaProperties:
    - property: retention          # how long either party may keep the data
      value: 5
      unit: y                      # d/day/days, m/month/months, y/yr/year/years
      driver: regulatory
    customProperties:
    - property: retentionStart     # when the period starts: the exchange's publication
      value: published             #   (the manifest's signed ``created`` time)
    - property: purpose            # what the recipient may use the data for (codes of PURPOSES)
      value: [policy_monitoring, migrant_protection, official_statistics]
    - property: prohibitedUses     # what it must never be used for (codes of PROHIBITED_USES)
      value: [immigration_enforcement, decisions_about_individuals, re_identification, commercial_use]

Their hash, :attr:`UsageTerms.sha256`, travels in every manifest (``terms_sha256``); the
recipient checks it against its own copy of the contract and acknowledges it in its signed
receipt.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from exchange.canonical import canonical_json
from exchange.errors import ContractError

TERMS_FORMAT = "gcmx-usage-terms/1"
PURPOSES = frozenset({
    "policy_monitoring", "migrant_protection", "official_statistics", "research", "service_planning",
})
PROHIBITED_USES = frozenset({
    "immigration_enforcement", "decisions_about_individuals", "re_identification", "commercial_use",
    "law_enforcement", "onward_transfer",
})
REQUIRED_PROHIBITIONS = frozenset({"immigration_enforcement", "decisions_about_individuals"})
RETENTION_STARTS = ("published",)
_UNITS = {"d": "d", "day": "d", "days": "d", "m": "m", "month": "m", "months": "m",
          "y": "y", "yr": "y", "year": "y", "years": "y"}
_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_HINT = ("state it as in contracts/*.odcs.yaml (slaProperties retention; customProperties purpose and "
         "prohibitedUses); see the README, retention and purpose")


@dataclass(frozen=True)
class Retention:
    """How long the data may be kept: ``value`` ``unit`` (d, m, y) from ``start`` (published)."""

    value: int
    unit: str
    start: str = "published"

    def ends(self, started: datetime) -> datetime:
        """When the retention of data that started at ``started`` ends (calendar months and
        years: 29 February plus one year is 28 February)."""
        if self.unit == "d":
            return started + timedelta(days=self.value)
        months = started.month - 1 + (self.value if self.unit == "m" else 12 * self.value)
        year, month = started.year + months // 12, months % 12 + 1
        return started.replace(year=year, month=month, day=min(started.day, calendar.monthrange(year, month)[1]))

    def __str__(self) -> str:
        return f"{self.value} {dict(d='day', m='month', y='year')[self.unit]}{'s' if self.value != 1 else ''} " \
               f"from {self.start}"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "start": self.start}


@dataclass(frozen=True)
class UsageTerms:
    """Retention, purposes and prohibited uses of one contract version."""

    contract_id: str
    version: str
    retention: Retention
    purposes: tuple[str, ...]
    prohibited_uses: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"format": TERMS_FORMAT, "contract": self.contract_id, "version": self.version,
                "retention": self.retention.to_dict(), "purposes": list(self.purposes),
                "prohibited_uses": list(self.prohibited_uses)}

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical terms: what the manifest carries as ``terms_sha256``."""
        return hashlib.sha256(canonical_json(self.to_dict())).hexdigest()


def _retention(sla: list, start: Any, path: Path) -> Retention:
    found = [item for item in sla or [] if item.property == "retention"]
    if len(found) != 1:
        raise ContractError(f"{path}: slaProperties must state the retention once (found {len(found)})",
                            hint=_HINT, field="slaProperties.retention")
    item = found[0]
    value, unit = item.value, _UNITS.get(str(item.unit or "").lower())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or unit is None:
        raise ContractError(f"{path}: retention must be a whole number of days, months or years "
                            f"(value {value!r}, unit {item.unit!r})", hint=_HINT, field="slaProperties.retention")
    if start not in RETENTION_STARTS:
        raise ContractError(f"{path}: retentionStart {start!r} is not one of {list(RETENTION_STARTS)}",
                            hint="add the custom property retentionStart: published (the exchange's publication)",
                            field="customProperties.retentionStart")
    return Retention(value, unit, start)


def _codes(terms: dict, name: str, known: frozenset, path: Path) -> tuple[str, ...]:
    value = terms.get(name)
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and _CODE.fullmatch(c) for c in value):
        raise ContractError(f"{path}: customProperties {name} must be a non-empty list of codes",
                            hint=_HINT, field=f"customProperties.{name}")
    unknown = sorted(set(value) - known)
    if unknown:
        raise ContractError(f"{path}: {name} names unknown codes {unknown}",
                            hint=f"use codes from {sorted(known)}", field=f"customProperties.{name}")
    return tuple(sorted(set(value)))


def usage_terms(odcs: Any, terms: dict, path: Path) -> UsageTerms:
    """The retention, purposes and prohibited uses of a parsed ODCS contract (``terms``: its
    customProperties as a dict); ContractError naming the file and the field when one is missing
    or malformed."""
    retention = _retention(odcs.slaProperties, terms.get("retentionStart"), path)
    purposes = _codes(terms, "purpose", PURPOSES, path)
    prohibited = _codes(terms, "prohibitedUses", PROHIBITED_USES, path)
    missing = sorted(REQUIRED_PROHIBITIONS - set(prohibited))
    if missing:
        raise ContractError(f"{path}: prohibitedUses lacks {missing}",
                            hint="every exchange of migrants' data prohibits these uses",
                            field="customProperties.prohibitedUses")
    overlap = sorted(set(purposes) & set(prohibited))
    if overlap:
        raise ContractError(f"{path}: {overlap} are both a purpose and a prohibited use", hint=_HINT)
    return UsageTerms(odcs.id, str(odcs.version), retention, purposes, prohibited)
