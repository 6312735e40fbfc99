"""Disclosure control: nothing leaves the country that can single a child out.

* ``protect(table, rules, linkage_key)``: apply a contract's ``disclosure`` rules —
  cell suppression for frequency tables (``aggregate``), k-anonymity and keyed
  pseudonyms for microdata (``records``) — and return the table with its
  :class:`DisclosureReport` (counts only).
* ``audit_table``: the attacker's exact linear-programming check of a protected table
  (docs/disclosure.md states the attacker and the publication rule).
* ``pseudonymise``: AES-CMAC pseudonyms in a scope (contract, release, column).
* ``reconcile_births``: matched / unmatched births on pseudonyms, protected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from exchange.disclosure.aggregate import protect_aggregate
from exchange.disclosure.attack import AuditCell, AuditResult, audit_table
from exchange.disclosure.births import reconcile_births
from exchange.disclosure.outcome import DisclosureReport
from exchange.disclosure.pseudonym import pseudonym_scope, pseudonymise
from exchange.disclosure.records import Release, protect_records
from exchange.disclosure.rules import DisclosureRules, as_rules

__all__ = ["AuditCell", "AuditResult", "DisclosureReport", "DisclosureRules", "Release",
           "audit_table", "protect", "pseudonym_scope", "pseudonymise", "reconcile_births"]


def protect(table: pa.Table, rules: DisclosureRules | Mapping[str, Any],
            linkage_key: bytes | None = None, *, earlier: Sequence[pa.Table] = (),
            release: Release | None = None) -> tuple[pa.Table, DisclosureReport]:
    """Apply the contract's disclosure rules; return the safe table and its report.

    ``aggregate``: primary and secondary suppression, then the exact LP audit (always,
    whatever the size) proving the protection levels on every primary cell against
    the partner with every ``earlier`` release of the same contract and period (tables
    as published); DisclosureError if it cannot be proven.
    ``records``: pseudonymise the identifier columns (``linkage_key``: the pseudonym
    key the contract's ``linkage`` calls for), k-anonymise the quasi-identifiers with
    l-diversity of the sensitive attributes, the release period always in the classes
    and, with stable pseudonyms, ``release.earlier`` (what was already sent) too;
    rows are shuffled (see :mod:`exchange.disclosure.records`). ``none``: unchanged.
    """
    rules = as_rules(rules)
    report = DisclosureReport(method=rules.method, rules=rules.to_dict())
    if rules.method == "none":
        return table, report
    if rules.method == "aggregate":
        return _protect_aggregate(table, rules, report, earlier)
    return protect_records(table, rules, linkage_key, report, release)


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
