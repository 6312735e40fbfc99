"""Disclosure control: nothing leaves the country that can single a child out.

* ``protect(table, rules, linkage_key)``: apply a contract's ``disclosure`` rules —
  cell suppression for frequency tables (``aggregate``), k-anonymity and keyed
  pseudonyms for microdata (``records``) — and return the table with its
  :class:`DisclosureReport` (counts only).
* ``audit_table``: the attacker's linear-programming check of a protected table.
* ``pseudonymise``: AES-CMAC pseudonyms in a scope (contract, release, column).
* ``reconcile_births``: matched / unmatched births on pseudonyms, protected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from exchange.disclosure.aggregate import protect_aggregate
from exchange.disclosure.audit import AuditCell, AuditResult, audit_table
from exchange.disclosure.births import reconcile_births
from exchange.disclosure.pseudonym import pseudonym_scope, pseudonymise
from exchange.disclosure.records import Release, protect_records
from exchange.disclosure.report import DisclosureReport
from exchange.disclosure.rules import DisclosureRules, as_rules
from exchange.errors import DisclosureError

LP_AUDIT_MAX_CELLS = 50_000  # every table of our contracts; ~10-20 s at 33k cells

__all__ = ["AuditCell", "AuditResult", "DisclosureReport", "DisclosureRules", "Release",
           "audit_table", "protect", "pseudonym_scope", "pseudonymise", "reconcile_births"]


def protect(table: pa.Table, rules: DisclosureRules | Mapping[str, Any],
            linkage_key: bytes | None = None, *, audit: bool | None = None,
            release: Release | None = None) -> tuple[pa.Table, DisclosureReport]:
    """Apply the contract's disclosure rules; return the safe table and its report.

    ``aggregate``: primary and secondary suppression. Every suppressed cell carries a
    hypercube certificate (a shift of the table the attacker cannot rule out). With
    ``audit`` the result is also attacked with :func:`audit_table` (linear programming)
    and a DisclosureError is raised if any suppressed cell could be narrowed below the
    protection interval; ``None`` (default) audits tables of up to
    ``LP_AUDIT_MAX_CELLS`` cells (the audit then takes seconds, not minutes). The report
    names the proof used.
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
        return _protect_aggregate(table, rules, report, audit)
    return protect_records(table, rules, linkage_key, report, release)


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
