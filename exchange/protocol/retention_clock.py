"""The time a retention run deletes by: the earlier of this machine's clock and the store's.

Deleting is the one thing a wrong clock makes irreversible. A machine whose clock runs ahead
(a dead CMOS battery, a wrong time zone set as UTC, a test left in place) would otherwise
delete every exchange that merely *looks* expired. So a run reads the store's own clock too
(the ``Date`` of its answer, :meth:`exchange.storage.s3.Store.now`) and deletes only what
both clocks say has expired. When the two differ by more than :data:`TOLERANCE` the report
says so and the run fails its check (exit 1): the operator sets the clock right (a clock
behind makes deletions late, a retention term missed). When the store's clock cannot be
read, nothing is deleted: the expired exchanges are left overdue for the next run, like any
deletion the store prevents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from exchange.clock import now
from exchange.errors import StoreError
from exchange.protocol.naming import bucket_name
from exchange.protocol.node import Node

TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True)
class RetentionClock:
    """``moment``: what the run deletes by; ``store_read``: whether the store's clock was read
    (else nothing may be deleted); ``skew``: a sentence when the clocks disagree, else None."""

    moment: datetime
    store_read: bool
    skew: str | None = None


def retention_clock(node: Node, partners: set[str]) -> RetentionClock:
    """The run's clock, checked against the store's through a bucket between this party and one
    of ``partners`` (those it holds exchanges or quarantine copies of; none: nothing to delete).
    Each bucket is tried in turn, this party's own first, so one that is gone (a partnership
    ended) or refused does not stop the run; if none answers, nothing may be deleted."""
    local = now()
    if not partners:
        return RetentionClock(local, True)
    buckets = [*(bucket_name(node.party, p) for p in sorted(partners)),
               *(bucket_name(p, node.party) for p in sorted(partners))]
    for bucket in buckets:
        try:
            store = node.store.now(bucket)
        except StoreError:
            continue
        if store is not None:
            break
    else:
        return RetentionClock(local, False)
    off = local - store
    skew = None
    if abs(off) > TOLERANCE:
        side = "ahead of" if off > TOLERANCE else "behind"
        skew = (f"this machine's clock is {_span(abs(off))} {side} the store's (s3://{bucket}); "
                "deletions follow the earlier of the two: set this machine's clock right (NTP)")
    return RetentionClock(min(local, store), True, skew)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"
