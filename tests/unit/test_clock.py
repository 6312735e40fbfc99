"""One time format (exchange/clock.py): ISO 8601 UTC with milliseconds, sorting in time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from exchange import clock

FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_now_is_in_the_one_format():
    assert FORMAT.match(clock.utc_now())


def test_any_zone_is_written_as_utc_and_strings_sort_in_time_order():
    moment = datetime(2026, 11, 27, 14, 28, 42, 123456, tzinfo=timezone(timedelta(hours=7)))
    assert clock.format_time(moment) == "2026-11-27T07:28:42.123Z"
    times = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=n * 997) for n in range(50)]
    assert sorted(clock.format_time(t) for t in reversed(times)) == [clock.format_time(t) for t in times]
