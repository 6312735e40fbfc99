"""The short reports a manifest and a receipt carry: validation and disclosure, in counts only.

``ValidationSummary`` is :meth:`ValidationReport.summary` on the wire (the sender's check before
sending, in the manifest; the recipient's check, in its receipt). ``DisclosureSummary`` is
:meth:`DisclosureReport.for_partner`: what protection did, with no primary/secondary split.
The disclosure rules and privacy terms are the contract's own JSON (their shape is owned by
:mod:`exchange.disclosure.rules`); they are carried as checked JSON objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exchange.protocol.strict import Fields, without_none


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold, and on how many rows."""

    expectation: str
    unexpected_count: int | float | None

    @classmethod
    def read(cls, f: Fields) -> FailedExpectation:
        made = cls(f.text("expectation"), f.number("unexpected_count", nullable=True))
        f.done()
        return made

    def to_dict(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "unexpected_count": self.unexpected_count}


@dataclass(frozen=True)
class ValidationSummary:
    """Contract, success, rows and the failed expectations of one validation."""

    contract_id: str
    contract_version: str
    contract_hash: str
    success: bool
    row_count: int
    evaluated: int
    failed: tuple[FailedExpectation, ...] = ()

    @classmethod
    def of(cls, summary: dict[str, Any]) -> ValidationSummary:
        """From :meth:`ValidationReport.summary` (ProtocolError if it is not of that shape)."""
        return cls.read(Fields(summary, "validation summary", "validation report"))

    @classmethod
    def read(cls, f: Fields) -> ValidationSummary:
        made = cls(contract_id=f.text("contract_id"), contract_version=f.text("contract_version"),
                   contract_hash=f.text("contract_hash"), success=f.flag("success"),
                   row_count=f.count("row_count"), evaluated=f.count("evaluated"),
                   failed=f.items("failed", FailedExpectation.read))
        f.done()
        return made

    @classmethod
    def read_optional(cls, f: Fields) -> ValidationSummary | None:
        """A receipt's summary: ``{}`` when the exchange was refused before it was validated."""
        return None if not f.raw else cls.read(f)

    def to_dict(self) -> dict[str, Any]:
        return {"contract_id": self.contract_id, "contract_version": self.contract_version,
                "contract_hash": self.contract_hash, "success": self.success, "row_count": self.row_count,
                "evaluated": self.evaluated, "failed": [x.to_dict() for x in self.failed]}


@dataclass(frozen=True)
class DisclosureAudit:
    """The partner's view of the exact audit of an aggregate release."""

    method: str
    solver: str
    ok: bool
    protection_levels: dict[str, Any]

    @classmethod
    def read(cls, f: Fields) -> DisclosureAudit:
        made = cls(f.text("method"), f.text("solver"), f.flag("ok"), f.json_object("protectionLevels"))
        f.done()
        return made

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "solver": self.solver, "ok": self.ok,
                "protectionLevels": self.protection_levels}


_COUNTS = {"cells_total": "cellsTotal", "cells_suppressed": "cellsSuppressed", "records_total": "recordsTotal",
           "records_generalised": "recordsGeneralised", "records_suppressed": "recordsSuppressed",
           "values_suppressed": "valuesSuppressed", "k_reached": "kReached"}


@dataclass(frozen=True)
class DisclosureSummary:
    """What disclosure control did to a release, as the partner may see it (counts only).

    Fields that do not apply to the method are None and absent on the wire."""

    method: str
    rules: dict[str, Any]
    cells_total: int | None = None
    cells_suppressed: int | None = None
    records_total: int | None = None
    records_generalised: int | None = None
    records_suppressed: int | None = None
    values_suppressed: int | None = None
    k_reached: int | None = None
    information_loss: int | float | None = None
    generalisation_levels: dict[str, Any] | None = None
    columns_pseudonymised: tuple[str, ...] | None = None
    privacy: dict[str, Any] | None = None
    audit: DisclosureAudit | None = None

    @classmethod
    def of(cls, for_partner: dict[str, Any]) -> DisclosureSummary:
        """From :meth:`DisclosureReport.for_partner` (ProtocolError if it is not of that shape)."""
        return cls.read(Fields(for_partner, "disclosure summary", "disclosure report"))

    @classmethod
    def read(cls, f: Fields) -> DisclosureSummary:
        made = cls(method=f.text("method"), rules=f.json_object("rules"),
                   **{attr: f.count(key, optional=True) for attr, key in _COUNTS.items()},
                   information_loss=f.number("informationLoss", optional=True),
                   generalisation_levels=f.json_object("generalisationLevels", optional=True),
                   columns_pseudonymised=f.texts("columnsPseudonymised", optional=True),
                   privacy=f.json_object("privacy", optional=True),
                   audit=f.nested("audit", DisclosureAudit.read, optional=True))
        f.done()
        return made

    def to_dict(self) -> dict[str, Any]:
        return without_none({
            "method": self.method, "rules": self.rules,
            **{key: getattr(self, attr) for attr, key in _COUNTS.items()},
            "informationLoss": self.information_loss, "generalisationLevels": self.generalisation_levels,
            "columnsPseudonymised": None if self.columns_pseudonymised is None else list(self.columns_pseudonymised),
            "privacy": self.privacy, "audit": None if self.audit is None else self.audit.to_dict()})
