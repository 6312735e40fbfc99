"""The one function the ``gcmx_retention`` DAG's task calls: plain Python, testable without Airflow.

Like :mod:`exchange.orchestration.tasks`: it takes the boto3 client the caller built, builds the
party's node from ``GCMX_*`` settings and returns a JSON-able summary (ids, counts, times; no
record values). A deletion the store could not do now raises :class:`StoreUnavailable` (Airflow
retries; every step is idempotent); an invalid or overdue partner statement, or an exchange
whose retention cannot be computed, fails the run (:class:`RetentionCheckFailed`) after
everything else was done, so the data office sees it.
"""

from __future__ import annotations

from exchange.errors import ProtocolError, StoreUnavailable


class RetentionCheckFailed(ProtocolError):
    """A partner's deletion statement is invalid or overdue, or a retention cannot be computed."""


def apply_retention_task(client, dry_run: bool = False) -> dict:
    """Apply retention for the configured party (see :func:`exchange.protocol.retention.apply_retention`)."""
    from exchange.orchestration.tasks import node_for
    from exchange.protocol.retention import apply_retention

    report = apply_retention(node_for(client), dry_run=dry_run)
    summary = {"now": report.now, "dry_run": dry_run, "deleted": [r["exchange_id"] for r in report.deleted],
               "overdue": len(report.overdue), "unconfirmed": len(report.unconfirmed),
               "confirmed": len(report.confirmed), "invalid": len(report.invalid), "kept": report.kept,
               "next_end": report.next_end}
    if report.transient:
        raise StoreUnavailable(f"retention: {len(report.overdue)} deletion(s) wait for the store ({summary})",
                               hint="the store is down or busy; the retry finishes them")
    if report.check_failed:
        raise RetentionCheckFailed(
            f"retention: {len(report.invalid)} invalid partner statement(s), "
            f"{sum(u['overdue'] for u in report.unconfirmed)} overdue confirmation(s), "
            f"{len(report.unknown)} exchange(s) without a computable retention ({summary})",
            hint="see `gcmx retention apply` and the auditor's report, retention section")
    return summary
