"""A signed audit checkpoint: the head of a party's audit log at one seq.

``{"head": <SHA-256 of the line at seq>, "party": "KHM", "seq": 7, "time": "...Z"}`` in canonical
JSON (:mod:`exchange.canonical`) and a newline, signed with minisign; the trusted comment names
party, seq and head (:meth:`Checkpoint.comment`). Writing, publishing and verifying checkpoints
is :mod:`exchange.audit.log`; checking a log against one is :mod:`exchange.audit.chain`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from exchange.canonical import canonical_json
from exchange.errors import TerminalError
from exchange.protocol.strict import Fields, parse_json

_HEX64 = re.compile(r"[0-9a-f]{64}")


class AuditError(TerminalError):
    """The audit log cannot be written or read as a well-formed chain."""


@dataclass(frozen=True)
class Checkpoint:
    """The head of ``party``'s audit log at ``seq``, as signed at ``time``."""

    party: str
    seq: int
    head: str
    time: str

    def comment(self) -> str:
        """The trusted comment of this checkpoint's signature."""
        return f"gcmx audit checkpoint party={self.party} seq={self.seq} head={self.head}"

    def to_dict(self) -> dict[str, Any]:
        return {"party": self.party, "seq": self.seq, "head": self.head, "time": self.time}

    def to_json(self) -> bytes:
        """The signed bytes: canonical JSON and a newline (one line, like the log)."""
        return canonical_json(self.to_dict()) + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "audit checkpoint") -> Checkpoint:
        """Parse a checkpoint strictly: AuditError naming ``where`` and the field otherwise."""
        f = Fields(parse_json(data, "audit checkpoint", where, AuditError), "checkpoint", where, AuditError)
        made = cls(party=f.text("party"), seq=f.count("seq"), head=f.text("head", _HEX64), time=f.text("time"))
        f.done()
        return made
