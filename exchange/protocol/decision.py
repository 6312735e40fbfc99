"""What a recipient decided about one inbound exchange, kept at
``inbound/{sender}/{dataset}/{period}/{exchange_id}.json`` (see :func:`exchange.protocol.inbound_checks.decision_path`).

A decision is ``landed`` (with the ``path`` of the landed folder) or ``rejected`` (with the
``reason`` and the ``quarantine`` folder). Its receipt stays in ``receipt_pending`` until it was
written to the bucket; ``slot_taken`` says the receipt's key held a planted object (alarmed once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from exchange.canonical import canonical_json
from exchange.protocol.receipts import Receipt
from exchange.protocol.strict import Fields, parse_json, without_none

_STATUS = re.compile("landed|rejected")


@dataclass(frozen=True)
class Decision:
    """The outcome of one inbound exchange and its receipt, while the receipt is not sent."""

    status: str  # landed | rejected
    time: str
    receipt_pending: Receipt | None
    slot_taken: bool = False
    path: str | None = None  # landed: the landing folder
    reason: str | None = None  # rejected: why
    quarantine: str | None = None  # rejected: where the exchange was kept

    def sent(self) -> Decision:
        """This decision once its receipt is in the bucket."""
        return replace(self, receipt_pending=None, slot_taken=False)

    def to_dict(self) -> dict[str, Any]:
        """The decision as a JSON value (the file holds it indented)."""
        return without_none({
            "status": self.status, "time": self.time, "path": self.path, "reason": self.reason,
            "quarantine": self.quarantine, "slot_taken": self.slot_taken,
        }) | {"receipt_pending": self.receipt_pending.to_dict() if self.receipt_pending else None}

    def to_json(self) -> bytes:
        """The decision as canonical JSON."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "decision") -> Decision:
        """Parse a decision strictly (ProtocolError naming ``where`` and the field).

        ``slot_taken`` may be absent: it is written with the first attempt to send the receipt."""
        f = Fields(parse_json(data, "decision", where), "decision", where)
        made = cls(status=f.text("status", _STATUS), time=f.text("time"),
                   receipt_pending=f.nested("receipt_pending", Receipt.read, nullable=True),
                   slot_taken=bool(f.flag("slot_taken", optional=True)), path=f.text("path", optional=True),
                   reason=f.text("reason", optional=True), quarantine=f.text("quarantine", optional=True))
        f.done()
        return made

    @classmethod
    def read(cls, path: Path) -> Decision:
        """The decision stored at ``path``."""
        return cls.from_json(path.read_bytes(), str(path))
