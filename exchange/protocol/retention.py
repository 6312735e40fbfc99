"""Retention: when an exchange's agreed retention ends, both parties delete it and say so, signed.

The contract states the retention (:mod:`exchange.contract.usage_terms`): a number of days,
months or years from the exchange's publication, the ``created`` time its sender signed in the
manifest. :func:`apply_retention` (``gcmx retention apply`` and the daily ``gcmx_retention`` DAG)

* as **recipient**, deletes the landed copy (``landing/{sender}/.../{exchange_id}/``) and every
  quarantine copy of the exchange (``quarantine/{exchange_id}[.*]/``);
* as **sender**, deletes the exchange's objects from its outbound bucket (data, manifest,
  signature; its local record of hashes stays, to verify what the partner says; the index
  entry and the claims, which name no data, stay so that sequences keep increasing);
* deletes the quarantine copy of an exchange it rejected once the contract's retention has
  passed since the rejection (:mod:`exchange.protocol.quarantine_retention`; audit entry only,
  as a rejected exchange never landed);
* each then signs a deletion statement (:mod:`exchange.protocol.deletion`) into its home, its
  audit log and its outbound bucket, and, as sender, collects the partner's statements.

Nothing whose retention has not ended is touched. Every step is safe to repeat: a run that
stopped half-way (store down, a crash) finishes on the next one, and a statement already made
is never made again. ``dry_run`` only reports what would be deleted.

The report (:class:`RetentionReport`, kept in ``retention/status.json`` for the auditor's report)
says what was deleted, what is due but not deleted yet (overdue: the store was down), and which
of this party's sent exchanges lack the partner's statement (unconfirmed; overdue once
:data:`CONFIRMATION_GRACE` has passed since the retention ended).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from exchange.atomic import write_json_atomic
from exchange.clock import format_time, now, parse_time
from exchange.errors import GcmxError, TransientError
from exchange.protocol.deletion import (
    DeletionStatement,
    collect_deletions,
    confirmed_path,
    own_statement_path,
    publish_statement,
    record_statement,
)
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import (
    DATA,
    LANDING,
    MANIFEST,
    OUTBOUND,
    QUARANTINE,
    RETENTION,
    SIGNATURE,
    contract_id,
)
from exchange.protocol.node import Node
from exchange.protocol.observed import retention_start
from exchange.protocol.quarantine_retention import Quarantined, delete_rejected_copy, rejected_copies
from exchange.protocol.retention_clock import RetentionClock, retention_clock
from exchange.protocol.rotation_due import age_key_rotation_due

CONFIRMATION_GRACE = timedelta(days=7)  # the partner's daily run has had a week to delete and say so
STATUS = "status.json"
PUBLISHED_SUFFIX = ".published"


@dataclass(frozen=True)
class Held:
    """One exchange this party holds a copy of (landed) or sent (bucket objects), and its retention."""

    exchange_id: str
    role: str  # sender | recipient
    partner: str
    dataset: str
    period: str
    manifest: Manifest
    manifest_sha256: str
    folder: Path  # recipient: the landing folder; sender: the outbound record folder
    ends: datetime | None  # None: the retention cannot be computed (contract not held, bad time)


@dataclass
class RetentionReport:
    """What a retention run did and found (JSON-able, no record values)."""

    now: str
    dry_run: bool
    deleted: list[dict] = field(default_factory=list)       # deleted by this run (or would be: dry run)
    overdue: list[dict] = field(default_factory=list)       # retention ended, not deleted (why)
    unconfirmed: list[dict] = field(default_factory=list)   # sent, retention ended, no partner statement
    confirmed: list[dict] = field(default_factory=list)     # partner statements verified by this run
    invalid: list[dict] = field(default_factory=list)       # partner statements that did not verify
    unknown: list[dict] = field(default_factory=list)       # retention not computable
    quarantines_deleted: list[dict] = field(default_factory=list)  # rejected exchanges' copies deleted
    kept: int = 0                                            # held, retention not ended
    next_end: str | None = None
    rotation_due: dict | None = None  # this party's age key is older than a retention period
    clock_skew: str | None = None  # this machine's clock and the store's disagree (retention_clock.py)

    @property
    def check_failed(self) -> bool:
        """An invalid partner statement, a confirmation overdue, a retention that cannot be
        computed, or this machine's clock and the store's apart."""
        return bool(self.invalid or self.unknown or any(u["overdue"] for u in self.unconfirmed)
                    or self.clock_skew)

    @property
    def transient(self) -> bool:
        """A deletion left for the next run because the store was unavailable."""
        return any(o.get("transient") for o in self.overdue)

    def to_dict(self) -> dict:
        return asdict(self)


def retention_end(node: Node, manifest: Manifest, folder: Path | None = None) -> datetime | None:
    """When ``manifest``'s retention ends under the contract this node holds, or None; counted
    from :func:`~exchange.protocol.observed.retention_start` of the copy in ``folder``."""
    started = retention_start(manifest, folder)
    try:
        contract = node.contract(manifest.contract.id)
    except GcmxError:
        return None
    return contract.retention.ends(started) if started else None


def _read(path: Path) -> tuple[Manifest, str]:
    body = path.read_bytes()
    manifest = Manifest.from_json(body, str(path))
    return manifest, hashlib.sha256(manifest.to_json()).hexdigest()


def held(node: Node) -> list[Held]:
    """Every exchange this party landed (recipient) or sent (sender), from its own home."""
    found = []
    for path in sorted(node.folder(LANDING).glob(f"*/*/*/*/{MANIFEST}")):
        manifest, sha = _read(path)
        if path.parent.name == manifest.exchange_id and node.party in manifest.recipient_parties:
            found.append(Held(manifest.exchange_id, "recipient", manifest.sender, manifest.dataset,
                              manifest.period, manifest, sha, path.parent, retention_end(node, manifest, path.parent)))
    for path in sorted(node.folder(OUTBOUND).glob(f"*/{MANIFEST}")):
        manifest, sha = _read(path)
        if path.parent.name == manifest.exchange_id and manifest.sender == node.party:
            found.append(Held(manifest.exchange_id, "sender", manifest.recipient_parties[0], manifest.dataset,
                              manifest.period, manifest, sha, path.parent, retention_end(node, manifest, path.parent)))
    return found


def _remove_copies(node: Node, item: Held) -> list[str]:
    """Delete what this party holds of ``item``; the names of what was removed (idempotent)."""
    if item.role == "sender":
        keys = [f"{item.manifest.prefix}/{name}" for name in (DATA, SIGNATURE, MANIFEST)]
        for key in keys:  # the data first; a missing key is no error, so a retry is harmless
            node.store.delete(item.manifest.bucket, key)
        return [f"s3://{item.manifest.bucket}/{key}" for key in keys]
    removed = []
    quarantine = node.folder(QUARANTINE)
    for folder in [item.folder, *sorted(quarantine.glob(f"{item.exchange_id}")),
                   *sorted(quarantine.glob(f"{item.exchange_id}.*"))]:
        if folder != item.folder and _quarantined_from(folder) != item.partner:
            continue  # another sender's exchange under the same id: its copy keeps its own retention
        if folder.is_dir():
            shutil.rmtree(folder)
            removed.append(str(folder.relative_to(node.home)))
    return removed or [str(item.folder.relative_to(node.home))]


def _quarantined_from(folder: Path) -> str | None:
    """The sender a quarantine copy of an inbound exchange came from (its ``exchange.json``), or None."""
    try:
        record = json.loads((folder / "exchange.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record.get("sender") if isinstance(record, dict) else None


def _row(item: Held, **extra) -> dict:
    return {"exchange_id": item.exchange_id, "role": item.role, "partner": item.partner, "dataset": item.dataset,
            "period": item.period, "retention_ended": format_time(item.ends) if item.ends else None, **extra}


def _publish(node: Node, exchange_id: str) -> bool:
    """Put this party's statement in its bucket unless it is there already (marker beside it)."""
    marker = own_statement_path(node, exchange_id).with_suffix(PUBLISHED_SUFFIX)
    if marker.exists():
        return True
    path = own_statement_path(node, exchange_id)
    if publish_statement(node, DeletionStatement.from_json(path.read_bytes(), str(path))):
        marker.write_text(format_time(now()) + "\n")
        return True
    return False


def _delete(node: Node, item: Held, moment: datetime) -> None:
    removed = _remove_copies(node, item)
    record_statement(node, DeletionStatement.about(item.manifest, item.manifest_sha256, node.party,
                                                   format_time(item.ends), format_time(moment), removed))


def apply_retention(node: Node, dry_run: bool = False,
                    progress: Callable[[str], None] | None = None) -> RetentionReport:
    """Delete every exchange whose retention ended, sign and publish the deletion statements,
    collect the partners' statements; return (and, unless ``dry_run``, keep) the report.

    ``progress`` is told one line per exchange deleted. Transient store failures leave the
    exchange overdue for the next run; they are not raised."""
    items, quarantined = held(node), list(rejected_copies(node))
    clock = retention_clock(node, {item.partner for item in items} | {q.partner for q in quarantined})
    moment = clock.moment  # the earlier of this machine's clock and the store's
    report = RetentionReport(format_time(moment), dry_run, clock_skew=clock.skew)
    for item in items:
        done = own_statement_path(node, item.exchange_id).exists()
        if item.ends is None:
            report.unknown.append(_row(item, reason=f"contract {item.manifest.contract.id} not held here or "
                                                    "created time unreadable"))
            continue
        if item.ends > moment:
            report.kept += 1
            report.next_end = min(report.next_end or "~", format_time(item.ends))
            continue
        if not clock.store_read and not done:
            report.overdue.append(_row(item, reason="the store's clock could not be read to check this "
                                                    "machine's; nothing deleted", transient=True))
            continue
        if dry_run:
            if not done:
                report.deleted.append(_row(item, removed="(dry run: nothing deleted)"))
            continue
        try:
            if not done:
                _delete(node, item, moment)
                report.deleted.append(_row(item))
                if progress:
                    progress(f"deleted {item.role} copy of {item.dataset} {item.period} {item.exchange_id}")
            if not _publish(node, item.exchange_id):
                report.overdue.append(_row(item, reason="statement slot in the bucket holds other bytes"))
        except TransientError as exc:
            report.overdue.append(_row(item, reason=exc.message, transient=True))
    _rejected_copies(node, quarantined, report, clock, progress)
    report.rotation_due = age_key_rotation_due(node, moment)
    if not dry_run:
        _collect(node, items, report)
    _unconfirmed(node, items, report, moment)
    if not dry_run:
        write_json_atomic(node.folder(RETENTION) / STATUS, report.to_dict())
    return report


def _rejected_copies(node: Node, quarantined: list[Quarantined], report: RetentionReport, clock: RetentionClock,
                     progress: Callable[[str], None] | None) -> None:
    moment = clock.moment
    for item in quarantined:
        row = item.row(node.home)
        if item.ends is None:
            report.unknown.append(row)
        elif item.ends > moment:
            report.kept += 1
            report.next_end = min(report.next_end or "~", format_time(item.ends))
        elif not clock.store_read:
            report.overdue.append({**row, "reason": "the store's clock could not be read; quarantine copy kept",
                                   "transient": True})
        elif report.dry_run:
            report.quarantines_deleted.append({**row, "removed": "(dry run: nothing deleted)"})
        else:
            delete_rejected_copy(node, item, moment)
            report.quarantines_deleted.append(row)
            if progress:
                progress(f"deleted quarantine copy {row['folder']} of rejected {item.dataset} {item.period}")


def _collect(node: Node, items: list[Held], report: RetentionReport) -> None:
    for partner in sorted({i.partner for i in items if i.role == "sender"}):
        try:
            for found in collect_deletions(node, partner):
                (report.confirmed if found["status"] == "confirmed" else report.invalid).append(found)
        except TransientError as exc:
            report.overdue.append({"partner": partner, "reason": f"collecting statements: {exc.message}",
                                   "transient": True})


def _unconfirmed(node: Node, items: list[Held], report: RetentionReport, moment: datetime) -> None:
    for item in items:
        if item.role == "sender" and item.ends is not None and item.ends <= moment and _accepted(item) \
                and not confirmed_path(node, item.exchange_id).exists():
            report.unconfirmed.append(_row(item, overdue=moment - item.ends > CONFIRMATION_GRACE))


def _accepted(item: Held) -> bool:
    """Whether the partner accepted (landed) the exchange: only then does it owe a statement."""
    path = item.folder / "receipt.json"
    return path.is_file() and json.loads(path.read_text()).get("status") == "accepted"


def retention_explains(node: Node, sender: str, dataset: str, created: str) -> bool:
    """Whether an exchange ``sender`` indexed (``dataset``, signed ``created`` time) may be gone
    from its bucket because its retention ended (under the contract this node holds): then its
    absence is no alarm."""
    started = parse_time(created)
    try:
        contract = node.contract(contract_id(dataset, sender, node.party))
    except GcmxError:
        return False
    return started is not None and contract.retention.ends(started) <= now()
