"""Retention of rejected inbound exchanges: a quarantine copy is not kept longer than its data may be.

A rejected exchange never landed, so no signed statement covers it, but its quarantine folder
(``quarantine/{exchange_id}[.{sha12}]/``) may hold what was decrypted before the rejection. It is
kept for the retention of the contract its bucket and prefix name, counted from when it was
quarantined (this node's own clock, never a time the sender asserted, which may be forged), then
deleted with an audit entry. A folder whose contract this node does not hold, or whose record is
unreadable, is reported as unknown and kept for a person to decide.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.audit.log import AuditLog
from exchange.clock import format_time, parse_time
from exchange.errors import GcmxError
from exchange.protocol.naming import QUARANTINE, contract_id, parse_bucket, parse_exchange_prefix
from exchange.protocol.node import Node

EVENT = "quarantine_deleted"
_RECORD = "exchange.json"  # written by inbound's rejection: sender, bucket, prefix
_REASON = "reason.json"  # written by every quarantine: reason, time


@dataclass(frozen=True)
class Quarantined:
    """A rejected inbound exchange's quarantine folder and when its retention ends (None: unknown)."""

    folder: Path
    exchange_id: str
    dataset: str
    period: str
    partner: str
    ends: datetime | None
    why_unknown: str = ""

    def row(self, home: Path) -> dict:
        """The report's row (names and times only, never the folder's contents)."""
        return {"exchange_id": self.exchange_id, "role": "quarantine", "partner": self.partner,
                "dataset": self.dataset, "period": self.period, "folder": str(self.folder.relative_to(home)),
                "retention_ended": format_time(self.ends) if self.ends else None,
                **({"reason": self.why_unknown} if self.why_unknown else {})}


def _read(path: Path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _judge(node: Node, folder: Path) -> Quarantined:
    record, reason = _read(folder / _RECORD), _read(folder / _REASON)
    ref = parse_exchange_prefix(str(record.get("prefix", "")), str(record.get("bucket", "")))
    parties = parse_bucket(ref.bucket) if ref else None
    started = parse_time(str(reason.get("time", "")))
    if ref is None or parties is None or started is None:
        return Quarantined(folder, folder.name, "", "", str(record.get("sender", "")), None,
                           "quarantine record unreadable")
    sender, recipient = parties
    name = contract_id(ref.dataset, sender, recipient)
    try:
        retention = node.contract(name).retention
    except GcmxError:
        return Quarantined(folder, ref.exchange_id, ref.dataset, ref.period, sender, None,
                           f"contract {name} not held here")
    return Quarantined(folder, ref.exchange_id, ref.dataset, ref.period, sender, retention.ends(started))


def rejected_copies(node: Node) -> Iterator[Quarantined]:
    """Every quarantine folder of a rejected inbound exchange (the ones with an exchange record)."""
    root = node.folder(QUARANTINE)
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        if folder.is_dir() and (folder / _RECORD).is_file():
            yield _judge(node, folder)


def delete_rejected_copy(node: Node, item: Quarantined, moment: datetime) -> None:
    """Delete ``item``'s folder and say so in the audit log (idempotent: a gone folder is no error)."""
    shutil.rmtree(item.folder, ignore_errors=True)
    AuditLog.for_home(node.home, node.party).append(
        EVENT, exchange_id=item.exchange_id, dataset=item.dataset, period=item.period, sender=item.partner,
        folder=str(item.folder.relative_to(node.home)), retention_ended=format_time(item.ends),
        time_deleted=format_time(moment))
