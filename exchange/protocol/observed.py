"""Times observed beside the times asserted: a manifest dated far from when it appeared is an alarm.

Every time inside a manifest (``created``) is asserted by its sender. Beside it each party records
what it observed itself:

* the store's ``LastModified`` of the manifest object (S3's clock, :meth:`Store.last_modified`), and
* its own clock when it looked (:func:`exchange.clock.utc_now`).

The sender records them in ``outbound/{exchange_id}/observed.json`` once its manifest is in the
bucket; the recipient in an ``observe`` audit entry when it verified the manifest. When the
asserted ``created`` and the store's ``LastModified`` differ by more than :data:`TOLERANCE`, the
recipient raises a ``manifest-time-skew`` alarm (:mod:`exchange.audit.alarms`): a manifest
back-dated or post-dated by its signer, a sender clock gone wrong, or a signed manifest put
into the bucket again long after it was made. Publishing writes the manifest seconds after
dating it, so an hour leaves room for clock drift and a publish retried after a crash.

Retention counts from ``created`` (:mod:`exchange.protocol.retention`) only while it agrees with
what was observed: for an exchange dated more than :data:`TOLERANCE` from when its manifest
appeared, each side counts from the appearance (:func:`retention_start`), so a sender that
back-dates or post-dates (or whose clock is wrong) can neither make the recipient delete early
nor keep the data past the agreed retention. The recipient keeps its record beside the landed
copy (``landing/.../{exchange_id}/observed.json``), the sender in its outbound record.

Neither clock here is a trusted third party. Where a time-stamp authority is available a
deployment adds RFC 3161 tokens over the manifest's SHA-256 (see the README, "Time").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from exchange.atomic import write_json_atomic
from exchange.audit.alarms import raise_alarm
from exchange.audit.log import AuditLog
from exchange.clock import format_time, parse_time, utc_now
from exchange.errors import GcmxError
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import MANIFEST, OUTBOUND
from exchange.protocol.node import Node

TOLERANCE = timedelta(hours=1)
ALARM_KIND = "manifest-time-skew"
EVENT = "observe"
OBSERVED = "observed.json"


def observe(node: Node, manifest: Manifest) -> dict:
    """The times around ``manifest``: asserted ``created``, the store's ``LastModified`` of its
    manifest object (None when the store could not say) and this node's clock now."""
    try:
        stored = format_time(node.store.last_modified(manifest.bucket, f"{manifest.prefix}/{MANIFEST}"))
    except GcmxError:
        stored = None
    return {"asserted": manifest.created, "store_last_modified": stored, "local_clock": utc_now()}


def skew(times: dict) -> timedelta | None:
    """How far the asserted time lies from the store's, or None when either is unknown."""
    asserted, stored = parse_time(times.get("asserted")), parse_time(times.get("store_last_modified"))
    if stored is None:
        return None
    if asserted is None:
        return timedelta.max
    return abs(stored - asserted)


def record_publication(node: Node, manifest: Manifest) -> None:
    """The sender's record of when its manifest appeared (written once, on the first publish that
    finds it in the bucket)."""
    path = node.folder(OUTBOUND) / manifest.exchange_id / OBSERVED
    if not path.exists():
        write_json_atomic(path, observe(node, manifest))


def record_arrival(node: Node, partner: str, manifest: Manifest) -> dict:
    """The recipient's record of a verified manifest's times (an ``observe`` audit entry) and a
    ``manifest-time-skew`` alarm when it is dated more than :data:`TOLERANCE` from when it appeared."""
    times = observe(node, manifest)
    AuditLog.for_home(node.home, node.party).append(EVENT, exchange_id=manifest.exchange_id, sender=partner,
                                                     **{k: v for k, v in times.items() if v is not None})
    off = skew(times)
    if off is not None and off > TOLERANCE:
        shown = "an unreadable time" if off == timedelta.max else f"{off.total_seconds() / 3600:.1f} hours"
        raise_alarm(node, ALARM_KIND, partner,
                    f"manifest of exchange {manifest.exchange_id} is dated {manifest.created[:40]} but appeared in "
                    f"s3://{manifest.bucket} at {times['store_last_modified']}: {shown} apart (tolerance "
                    f"{TOLERANCE.total_seconds() / 3600:.0f} hour)", exchange_id=manifest.exchange_id,
                    asserted=manifest.created[:40], store_last_modified=times["store_last_modified"])
    return times



def retention_start(manifest: Manifest, folder: Path | None) -> datetime | None:
    """When retention of ``manifest``'s exchange counts from, for the copy recorded in ``folder``
    (a landing folder or the sender's outbound record): the signed ``created`` time, or, when it
    lies more than :data:`TOLERANCE` from when the manifest appeared in the store (``observed.json``),
    that appearance. Without a store time, never later than this node's clock when it looked."""
    created = parse_time(manifest.created)
    path = None if folder is None else Path(folder) / OBSERVED
    if path is None or not path.is_file():
        return created
    times = json.loads(path.read_text(encoding="utf-8"))
    off = skew(times)
    if off is None:
        seen = parse_time(times.get("local_clock"))
        return min(created, seen) if created and seen else created
    return parse_time(times["store_last_modified"]) if off > TOLERANCE else created
