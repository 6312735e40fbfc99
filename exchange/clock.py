"""The one time format of the exchange: ISO 8601 UTC with milliseconds, ``2026-11-27T07:28:42.123Z``.

Manifests, receipts, decisions, quarantine reasons and audit entries all carry it; strings of it
sort in time order.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> str:
    """The current time in the exchange's format."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """``moment`` (timezone-aware) in the exchange's format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
