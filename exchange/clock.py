"""The one time format of the exchange and the one clock it reads.

The format is ISO 8601 UTC with milliseconds, ``2026-11-27T07:28:42.123Z``. Manifests, receipts,
decisions, quarantine reasons, deletion statements and audit entries all carry it; strings of it
sort in time order.

Every "now" of the exchange comes from :func:`now`; a test (or a dry run that asks "what would
happen on that day") moves it with :func:`shifted` or :func:`frozen`, never by patching
``datetime``. Nothing in production sets it: there is no setting or variable for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731 - the one real clock


def now() -> datetime:
    """The current time (timezone-aware, UTC) as the exchange's clock says."""
    return _source()


def utc_now() -> str:
    """The current time in the exchange's format."""
    return format_time(now())


def format_time(moment: datetime) -> str:
    """``moment`` (timezone-aware) in the exchange's format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime | None:
    """A time in the exchange's format (or any ISO 8601 time with a zone) as a UTC datetime;
    None when ``text`` is not one (a time read from a partner's object is never trusted to parse)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


@contextmanager
def shifted(offset: timedelta) -> Iterator[None]:
    """Within the block the clock runs ``offset`` ahead of (or behind) real time."""
    global _source
    before = _source
    _source = lambda: before() + offset  # noqa: E731
    try:
        yield
    finally:
        _source = before


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Within the block the clock stands still at ``moment`` (timezone-aware)."""
    global _source
    before = _source
    _source = lambda: moment  # noqa: E731
    try:
        yield
    finally:
        _source = before
