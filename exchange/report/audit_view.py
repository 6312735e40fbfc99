"""The audit side of the report: the chain verdict, the checkpoint it used, events per exchange.

The log is verified with :func:`exchange.audit.log.verify_log`, against the party's latest
local signed checkpoint (``{home}/audit/checkpoints/latest.json``) when there is one and
its signature verifies with the party's minisign public key. Entries are read tolerantly
(a tampered log still produces a report that says so) and only whitelisted details are kept.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from exchange.audit.log import AuditLog, latest_local_checkpoint, verify_log
from exchange.crypto import keys
from exchange.errors import GcmxError
from exchange.protocol.naming import signature_key
from exchange.report import views

# Details of an entry the report may show; everything else (paths, buckets) stays in the log.
SHOWN = (
    "exchange_id",
    "dataset",
    "period",
    "contract",
    "version",
    "revision",
    "sequence",
    "rows",
    "status",
    "direction",
    "purpose",
    "key_id",
    "to",
    "from",
    "recipient",
    "sender",
    "checkpoint_seq",
    "head",
    "kind",
    "partner",
    "party_witnessed",
)


def _checkpoint(
    log: AuditLog, party: str, key_dirs: Iterable[Path]
) -> tuple[dict | None, dict | None, str | None]:
    """(verified checkpoint for verify_log, what the report says about it, a problem if any)."""
    local = latest_local_checkpoint(log)
    if local is None:
        return None, None, None
    shown = {"file": str(local.path), "seq": None, "head": None, "time": None, "signature": "missing"}
    claimed = local.claimed()
    if claimed is None:
        return None, shown, f"checkpoint {local.path} is not valid JSON"
    shown.update(
        seq=views.count(claimed.get("seq")),
        head=views.hexdigest(claimed.get("head")),
        time=claimed.get("time") if isinstance(claimed.get("time"), str) else None,
    )
    if local.signature is None:
        return None, shown, f"checkpoint {local.path} has no signature {signature_key(local.path.name)}"
    key = keys.find_signing_public_key(party, key_dirs)
    if key is None:
        shown["signature"] = "not checked (no public key of the party found)"
        return None, shown, None
    try:
        checkpoint = local.verified(key)
    except GcmxError as exc:
        shown["signature"] = "invalid"
        return None, shown, f"checkpoint {local.path.name}: {exc.message}"
    shown["signature"] = f"verified (minisign key {key.key_id})"
    return checkpoint, shown, None


def read_entries(path: Path) -> list[dict]:
    """Every entry that parses as a JSON object, in file order (damage is the verdict's job)."""
    if not path.is_file():
        return []
    found = []
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            found.append(entry)
    return found


def shown_entry(entry: dict) -> dict:
    """An entry reduced to what the report prints: seq, time, event and whitelisted details."""
    details = {}
    for key in SHOWN:
        value = entry.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            details[key] = value
        elif views.name(value) or views.hexdigest(value):
            details[key] = value
    if views.reason(entry.get("reason")):
        details["reason"] = views.reason(entry.get("reason"))
    return {
        "seq": views.count(entry.get("seq")),
        "time": entry.get("time") if isinstance(entry.get("time"), str) else None,
        "event": views.name(entry.get("event")) or "?",
        "details": details,
    }


def audit_view(home: Path, party: str, key_dirs: Iterable[Path], expect_log: bool = True) -> dict:
    """The verdict and a digest of the log: ``{verdict, checkpoint, counts, first, last, entries}``.

    ``entries`` are the shown entries in log order (the gatherer groups them by exchange).
    A missing log is a problem when ``expect_log`` (the node has exchanged anything).
    """
    log = AuditLog.for_home(home, party)
    checkpoint, shown_checkpoint, problem = _checkpoint(log, party, list(key_dirs))
    verdict = verify_log(log.path, checkpoint).to_dict()
    if problem:
        verdict["problems"].insert(0, problem)
        verdict["ok"] = False
    if expect_log and not log.path.is_file():
        verdict["problems"].insert(0, f"no audit log at {log.path}")
        verdict["ok"] = False
    entries = [shown_entry(e) for e in read_entries(log.path)]
    times = sorted(e["time"] for e in entries if e["time"])
    return {
        "verdict": verdict,
        "checkpoint": shown_checkpoint,
        "path": str(log.path),
        "counts": sorted(Counter(e["event"] for e in entries).items()),
        "first": times[0] if times else None,
        "last": times[-1] if times else None,
        "entries": entries,
    }
