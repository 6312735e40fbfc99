"""The report's retention section: what this party deleted when retention ended, which deletions
are overdue, and which partner deletion statements are unconfirmed or invalid.

Read from the home only (``retention/``, written by :func:`exchange.protocol.retention.apply_retention`):
this party's own signed statements (``deleted/``), the partners' verified ones (``confirmed/``) and
the last run's findings (``status.json``). Ids, hashes and times only; never a record value.
"""

from __future__ import annotations

import json
from pathlib import Path

from exchange.protocol.naming import RETENTION

_FINDINGS = ("overdue", "unconfirmed", "invalid", "unknown")


def _documents(folder: Path) -> list[dict]:
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            found.append({"exchange_id": path.stem, "unreadable": True})
    return found


def retention_view(home: Path) -> dict:
    """Deletions done (by this party, confirmed by partners) and the last run's findings."""
    folder = Path(home) / RETENTION
    status_path = folder / "status.json"
    status = json.loads(status_path.read_text(encoding="utf-8")) if status_path.is_file() else {}
    deleted = sorted(_documents(folder / "deleted"), key=lambda d: d.get("deleted") or "")
    confirmed = {d.get("exchange_id"): d for d in _documents(folder / "confirmed")}
    for doc in deleted:
        partner = confirmed.get(doc.get("exchange_id"))
        doc["partner_deleted"] = partner.get("deleted") if partner else None
    view = {"checked": status.get("now"), "deleted": deleted, "next_end": status.get("next_end"),
            "kept": status.get("kept", 0), "quarantines_deleted": status.get("quarantines_deleted", []),
            "rotation_due": status.get("rotation_due"), "clock_skew": status.get("clock_skew"),
            **{name: status.get(name, []) for name in _FINDINGS}}
    view["any"] = bool(deleted or status)
    view["problems"] = sum(len(view[name]) for name in ("overdue", "invalid", "unknown")) + sum(
        1 for u in view["unconfirmed"] if u.get("overdue")) + bool(view["clock_skew"])
    return view
