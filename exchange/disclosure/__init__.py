"""Disclosure control: nothing leaves the country that can single a child out.

* ``protect(table, rules, linkage_key)``: apply a contract's ``disclosure`` rules —
  cell suppression for frequency tables (``aggregate``), k-anonymity and keyed
  pseudonyms for microdata (``records``) — and return the table with its
  :class:`DisclosureReport` (counts only).
* ``audit_table``: the attacker's linear-programming check of a protected table.
* ``pseudonymise``: HMAC-SHA256 pseudonyms under the bilateral linkage key.
* ``reconcile_births``: matched / unmatched births on pseudonyms, protected.
"""

from __future__ import annotations

from collections.abc import Mapping
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

LP_AUDIT_MAX_CELLS = 50_000  # every table of our contracts; ~10-20 s at 33k cells

__all__ = ["AuditCell", "AuditResult", "DisclosureReport", "DisclosureRules", "audit_table",
           "protect", "pseudonymise", "reconcile_births"]


def protect(table: pa.Table, rules: DisclosureRules | Mapping[str, Any],
            linkage_key: bytes | None = None, *, audit: bool | None = None
            ) -> tuple[pa.Table, DisclosureReport]:
    """Apply the contract's disclosure rules; return the safe table and its report.

    ``aggregate``: primary and secondary suppression. Every suppressed cell carries a
    hypercube certificate (a shift of the table the attacker cannot rule out). With
    ``audit`` the result is also attacked with :func:`audit_table` (linear programming)
    and a DisclosureError is raised if any suppressed cell could be narrowed below the
    protection interval; ``None`` (default) audits tables of up to
    ``LP_AUDIT_MAX_CELLS`` cells (the audit then takes seconds, not minutes). The report
    names the proof used.
    ``records``: pseudonymise the identifier columns (needs ``linkage_key``), then
    k-anonymise the quasi-identifiers. ``none``: the table passes unchanged.
    """
    rules = as_rules(rules)
    report = DisclosureReport(method=rules.method, rules=rules.to_dict())
    if rules.method == "none":
        return table, report
    if rules.method == "aggregate":
        return _protect_aggregate(table, rules, report, audit)
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
                       audit: bool) -> tuple[pa.Table, DisclosureReport]:
    protected, outcome = protect_aggregate(table, rules)
    report.cells_total = outcome.cells
    report.cells_primary_suppressed = outcome.primary
    report.cells_secondary_suppressed = outcome.secondary
    if audit is None:
        audit = table.num_rows <= LP_AUDIT_MAX_CELLS
    if audit:
        verdict = audit_table(protected, rules, exact=False)
        report.audit = {"method": "linear-programming", **verdict.to_dict()}
        if not verdict.ok:
            raise DisclosureError(
                f"protection failed its own audit: {len(verdict.failed)} suppressed "
                f"cell(s) narrower than disclosure.protectionInterval", hint="report this "
                "table's shape (not its values) to the maintainers; do not publish it")
    else:
        report.audit = {"method": "hypercube-certificate", "ok": True,
                        "minimumCertifiedWidth": outcome.certified_width,
                        "protectionInterval": rules.protection_interval}
    return protected, report
