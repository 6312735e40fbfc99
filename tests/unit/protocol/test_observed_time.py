"""Times observed beside the times asserted (exchange/protocol/observed.py), on the in-memory
store whose LastModified follows the exchange's clock: both sides record them, and a manifest
dated far from when it appeared is an alarm."""

from __future__ import annotations

import json
from datetime import timedelta

from exchange import clock
from exchange.protocol.inbound import pull
from exchange.protocol.observed import ALARM_KIND, TOLERANCE
from tests.support.protocol import events, forge, manifest_fields

CONTRACT = "children_on_the_move.khm-tha"
PERIOD = "2026-10"


def test_sender_and_recipient_record_the_times_they_observed(nodes, published):
    khm, tha = nodes["KHM"], nodes["THA"]
    observed = json.loads((khm.home / "outbound" / published.exchange_id / "observed.json").read_text())
    assert set(observed) == {"asserted", "store_last_modified", "local_clock"}
    assert observed["store_last_modified"] and observed["local_clock"] >= observed["asserted"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    [seen] = events(tha, "observe", exchange_id=published.exchange_id)
    assert seen["asserted"] and seen["store_last_modified"] and seen["local_clock"]
    assert not events(tha, "alarm", kind=ALARM_KIND)


def test_partner_with_valid_keys_backdating_a_manifest_raises_the_time_alarm(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    dated = clock.format_time(clock.now() - TOLERANCE - timedelta(minutes=5))
    forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "d" * 32, created=dated))
    pull(tha, "KHM")
    [alarm] = events(tha, "alarm", kind=ALARM_KIND)
    assert alarm["exchange_id"] == "d" * 32 and alarm["asserted"] == dated and "tolerance" in alarm["reason"]


def test_bucket_key_only_putting_a_signed_manifest_again_later_raises_the_time_alarm(nodes, store):
    """A signed manifest, put into the bucket again a day after it was made (its LastModified moves)."""
    khm, tha = nodes["KHM"], nodes["THA"]
    fields = manifest_fields(khm, tha, CONTRACT, PERIOD, "e" * 32)
    with clock.shifted(timedelta(days=1)):  # the store's clock: the object appears a day later
        forge(khm, tha, fields, store=store)
        pull(tha, "KHM")
    assert [a["exchange_id"] for a in events(tha, "alarm", kind=ALARM_KIND)] == ["e" * 32]


def test_within_the_tolerance_there_is_no_alarm(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    dated = clock.format_time(clock.now() - TOLERANCE + timedelta(minutes=5))
    forge(khm, tha, manifest_fields(khm, tha, CONTRACT, PERIOD, "f" * 32, created=dated))
    pull(tha, "KHM")
    assert not events(tha, "alarm", kind=ALARM_KIND)
