"""The disclosure report: what protection did, in counts only, never values.

``gcmx protect`` prints (and writes) the sender's full report. Towards the partner (the
manifest) only :meth:`DisclosureReport.for_partner` travels: it has no primary/secondary
split and no per-table detail, since telling primary from secondary cells narrows them
(docs/disclosure.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DisclosureReport:
    """Rules applied and how many cells or records they touched."""

    method: str
    rules: dict[str, Any]
    cells_total: int | None = None
    cells_primary_suppressed: int | None = None
    cells_secondary_suppressed: int | None = None
    records_total: int | None = None
    records_generalised: int | None = None
    records_suppressed: int | None = None
    values_suppressed: int | None = None
    values_suppressed_by_column: dict[str, int] = field(default_factory=dict)  # the sender's own report only
    k_reached: int | None = None
    information_loss: float | None = None
    generalisation_levels: dict[str, int] = field(default_factory=dict)
    columns_pseudonymised: list[str] = field(default_factory=list)
    audit: dict[str, Any] | None = None
    privacy: dict[str, Any] | None = None  # records: time columns, linkage, l-diversity
    tables: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True unless an audit ran and failed."""
        return self.audit is None or bool(self.audit.get("ok"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (camelCase, like the contract); fields that do not apply are left out."""
        names = {
            "cells_total": "cellsTotal", "cells_primary_suppressed": "cellsPrimarySuppressed",
            "cells_secondary_suppressed": "cellsSecondarySuppressed",
            "records_total": "recordsTotal", "records_generalised": "recordsGeneralised",
            "records_suppressed": "recordsSuppressed", "values_suppressed": "valuesSuppressed",
            "k_reached": "kReached", "information_loss": "informationLoss",
        }
        out: dict[str, Any] = {"method": self.method, "rules": self.rules}
        for attr, key in names.items():
            value = getattr(self, attr)
            if value is not None:
                out[key] = round(value, 6) if isinstance(value, float) else value
        if self.generalisation_levels:
            out["generalisationLevels"] = dict(self.generalisation_levels)
        if self.columns_pseudonymised:
            out["columnsPseudonymised"] = list(self.columns_pseudonymised)
        if self.privacy is not None:
            out["privacy"] = dict(self.privacy)
        if self.cells_primary_suppressed is not None:
            out["cellsSuppressed"] = (self.cells_primary_suppressed
                                      + (self.cells_secondary_suppressed or 0))
        if self.audit is not None:
            out["audit"] = {k: (None if isinstance(v, float) and math.isinf(v) else v)
                            for k, v in self.audit.items()}
        if self.tables:
            out["tables"] = [dict(t) for t in self.tables]
        if self.values_suppressed_by_column:
            out["valuesSuppressedByColumn"] = dict(self.values_suppressed_by_column)
        return out

    def for_partner(self) -> dict[str, Any]:
        """What the partner may see (the manifest): no primary/secondary split, no detail.

        Aggregates: the rules, the cell counts, how many were suppressed in all, and
        whether the exact audit passed. Records: without the per-column suppression detail.
        """
        out = self.to_dict()
        out.pop("valuesSuppressedByColumn", None)  # the sender's own detail, not on the wire
        if self.method != "aggregate":
            return out
        out.pop("cellsPrimarySuppressed", None)
        out.pop("cellsSecondarySuppressed", None)
        out.pop("tables", None)
        if "audit" in out:
            out["audit"] = {k: out["audit"][k] for k in
                            ("method", "solver", "ok", "protectionLevels") if k in out["audit"]}
        return out
