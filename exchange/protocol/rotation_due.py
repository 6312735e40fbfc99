"""When this party's age key is due for rotation: at least once per retention period.

Crypto-shredding (``gcmx keys destroy``) only works if the age key an exchange was encrypted to
retires while later exchanges move on to a new one; a key older than the shortest retention of
the contracts this party receives under keeps expired exchanges readable. The retention run
reports it so a data officer rotates (``gcmx keys rotate``) in time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from exchange.clock import format_time, parse_time
from exchange.contract.terms import contract_terms
from exchange.crypto.key_history import load_history
from exchange.crypto.keys import key_file_paths
from exchange.errors import GcmxError
from exchange.protocol.node import Node


def _started(node: Node, valid_from: str) -> datetime | None:
    """The current age key's start: its history window, else when its identity file was written."""
    started = parse_time(valid_from) if valid_from else None
    if started:
        return started
    path = key_file_paths(node.party, node.settings.identity_dir).age_identity
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) if path.is_file() else None


def age_key_rotation_due(node: Node, moment: datetime) -> dict | None:
    """A finding (key id, since, shortest retention, due) when this party's current age key has
    been in use longer than the shortest retention it receives under; None otherwise."""
    try:
        contracts = [t for t in contract_terms(node.settings.contracts) if node.party in t.recipients]
        current = load_history(node.party, node.settings.identity_dir).current("age")
    except GcmxError:
        return None
    started = _started(node, current.valid_from) if current else None
    if not contracts or started is None:
        return None
    shortest = min(contracts, key=lambda c: c.retention.ends(started))
    due = shortest.retention.ends(started)
    if due > moment:
        return None
    return {"key_id": current.key_id, "since": format_time(started), "due": format_time(due),
            "retention": str(shortest.retention), "contract": shortest.id}
