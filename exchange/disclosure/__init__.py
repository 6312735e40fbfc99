"""Disclosure control: nothing leaves the country that can single a child out.

* ``protect(table, rules, linkage_key)``: apply a contract's ``disclosure`` rules —
  cell suppression for frequency tables (``aggregate``), k-anonymity and keyed
  pseudonyms for microdata (``records``) — and return the table with its
  :class:`DisclosureReport` (counts only).
* ``audit_table``: the attacker's exact linear-programming check of a protected table
  (docs/disclosure.md states the attacker and the publication rule).
* ``pseudonymise``: HMAC-SHA256 pseudonyms under the bilateral linkage key.
* ``reconcile_births``: matched / unmatched births on pseudonyms, protected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from exchange.disclosure.aggregate import protect_aggregate
from exchange.disclosure.audit import AuditCell, AuditResult, audit_table
from exchange.disclosure.births import reconcile_births
from exchange.disclosure.kanon import k_anonymise
from exchange.disclosure.pseudonym import pseudonymise, pseudonymise_columns
from exchange.disclosure.report import DisclosureReport
from exchange.disclosure.rules import DisclosureRules, as_rules
from exchange.errors import DisclosureError

__all__ = ["AuditCell", "AuditResult", "DisclosureReport", "DisclosureRules", "audit_table",
           "protect", "pseudonymise", "reconcile_births"]


def protect(table: pa.Table, rules: DisclosureRules | Mapping[str, Any],
            linkage_key: bytes | None = None, *, earlier: Sequence[pa.Table] = ()
            ) -> tuple[pa.Table, DisclosureReport]:
    """Apply the contract's disclosure rules; return the safe table and its report.

    ``aggregate``: primary and secondary suppression, then the exact LP audit (always,
    whatever the size) proving the protection levels on every primary cell against
    the partner with every ``earlier`` release of the same contract and period (tables
    as published); DisclosureError if it cannot be proven.
    ``records``: pseudonymise the identifier columns (needs ``linkage_key``), then
    k-anonymise the quasi-identifiers. ``none``: the table passes unchanged.
    """
    rules = as_rules(rules)
    report = DisclosureReport(method=rules.method, rules=rules.to_dict())
    if rules.method == "none":
        return table, report
    if rules.method == "aggregate":
        return _protect_aggregate(table, rules, report, earlier)
    if rules.pseudonymise:
        if linkage_key is None:
            raise DisclosureError(
                f"disclosure.pseudonymise names {', '.join(rules.pseudonymise)} but no "
                "linkage key was given",
                hint="the bilateral key is read from {identity}/linkage/{A}-{B}.key "
                     "(gcmx protect --linkage-key-file PATH, or GCMX_IDENTITY)")
        table = pseudonymise_columns(table, rules.pseudonymise, linkage_key)
        report.columns_pseudonymised = list(rules.pseudonymise)
    report.records_total = table.num_rows
    if rules.quasi_identifiers:
        table, outcome = k_anonymise(table, rules)
        report.records_generalised = outcome.generalised
        report.records_suppressed = outcome.suppressed_records
        report.values_suppressed = outcome.suppressed_values
        report.k_reached = outcome.k_reached
        report.information_loss = outcome.loss
        report.generalisation_levels = outcome.levels
    return table, report


def _protect_aggregate(table: pa.Table, rules: DisclosureRules, report: DisclosureReport,
                       earlier: Sequence[pa.Table]) -> tuple[pa.Table, DisclosureReport]:
    protected, outcome = protect_aggregate(table, rules, earlier)
    report.cells_total = outcome.cells
    report.cells_primary_suppressed = outcome.primary
    report.cells_secondary_suppressed = outcome.secondary
    report.tables = [t.to_dict() for t in outcome.tables]
    slack = outcome.minimum_slack
    report.audit = {"method": "exact-linear-programming", "solver": "HiGHS", "ok": True,
                    "suppressedCells": outcome.audited_cells,
                    "earlierReleases": len(earlier), "pinnedCells": outcome.pinned,
                    "protectionLevels": {"lower": rules.protection_lower,
                                         "upper": rules.protection_upper},
                    "minimumSlack": None if slack is None else round(slack, 6)}
    return protected, report
