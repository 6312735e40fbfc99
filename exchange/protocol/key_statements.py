"""Signed key statements a party publishes in its outbound buckets: rotations and revocations.

* :class:`Rotation` (``gcmx-key-rotation/1``): the party replaces its minisign key ``old`` (and
  its age key) by ``new``, at ``rotated_at``. Signed by the old key (``.minisig``) *and* by the
  new key (``.new.minisig``) over the same canonical bytes: the old signature proves the party
  whose key partners already trust asked for it, the new one that the new key's holder agreed.
* :class:`Revocation` (``gcmx-key-revocation/1``): the party revokes one of its keys from
  ``revoked_at`` (which may lie before the statement was written: "stolen since"), naming the
  ``successor`` minisign key if it rotated before revoking. Signed by the offline revocation key
  made at the key ceremony, so a stolen signing key cannot block its own revocation.

Both are canonical JSON (:mod:`exchange.canonical`), read strictly (:mod:`exchange.protocol.strict`)
after their size was bounded; the trusted comment of each signature names what it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from exchange.canonical import canonical_json
from exchange.crypto.key_history import KEY_ID, OPTIONAL_KEY_ID
from exchange.protocol.strict import Fields, parse_json

ROTATION_FORMAT = "gcmx-key-rotation/1"
REVOCATION_FORMAT = "gcmx-key-revocation/1"
_PARTY = re.compile(r"[A-Z]{3}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,80}={0,2}")
_AGE = re.compile(r"age1[0-9a-z]{10,4000}")
_KIND = re.compile(r"age|minisign")
_REASON = re.compile(r"[^\x00-\x1f\x7f]{1,500}")


@dataclass(frozen=True)
class Rotation:
    """A party's rotation from minisign key ``old_minisign`` (and age key ``old_age``) to new keys."""

    party: str
    rotated_at: str
    old_minisign: str  # key id
    old_age: str  # key id
    new_minisign: str  # key id
    new_minisign_public: str  # minisign's base64 line
    new_age: str  # key id
    new_age_recipient: str
    format: str = ROTATION_FORMAT

    def comment(self) -> str:
        """The trusted comment of both signatures."""
        return f"gcmx key-rotation {self.party} {self.old_minisign}->{self.new_minisign} at {self.rotated_at}"

    def to_dict(self) -> dict[str, Any]:
        """The statement as a JSON value."""
        return {"format": self.format, "party": self.party, "rotated_at": self.rotated_at,
                "old_minisign": self.old_minisign, "old_age": self.old_age, "new_minisign": self.new_minisign,
                "new_minisign_public": self.new_minisign_public, "new_age": self.new_age,
                "new_age_recipient": self.new_age_recipient}

    def to_json(self) -> bytes:
        """The canonical bytes that are signed."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "rotation statement") -> Rotation:
        """Parse strictly (ProtocolError naming ``where`` and the field); bound the size before."""
        f = Fields(parse_json(data, "rotation", where), "rotation", where)
        f.text("format", re.compile(re.escape(ROTATION_FORMAT)))
        made = cls(party=f.text("party", _PARTY), rotated_at=f.text("rotated_at", _TIME),
                   old_minisign=f.text("old_minisign", KEY_ID), old_age=f.text("old_age", KEY_ID),
                   new_minisign=f.text("new_minisign", KEY_ID),
                   new_minisign_public=f.text("new_minisign_public", _BASE64),
                   new_age=f.text("new_age", KEY_ID), new_age_recipient=f.text("new_age_recipient", _AGE))
        f.done()
        return made


@dataclass(frozen=True)
class Revocation:
    """A party's revocation of one of its keys (``kind`` age or minisign) from ``revoked_at``."""

    party: str
    key_id: str
    kind: str
    revoked_at: str
    reason: str
    successor: str = ""  # the minisign key the revoked one rotated to, if it did
    format: str = REVOCATION_FORMAT

    def comment(self) -> str:
        """The trusted comment of the revocation key's signature."""
        return f"gcmx key-revocation {self.party} {self.kind} {self.key_id} at {self.revoked_at}"

    def to_dict(self) -> dict[str, Any]:
        """The statement as a JSON value."""
        return {"format": self.format, "party": self.party, "key_id": self.key_id, "kind": self.kind,
                "revoked_at": self.revoked_at, "reason": self.reason, "successor": self.successor}

    def to_json(self) -> bytes:
        """The canonical bytes that are signed."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "revocation statement") -> Revocation:
        """Parse strictly (ProtocolError naming ``where`` and the field); bound the size before."""
        f = Fields(parse_json(data, "revocation", where), "revocation", where)
        f.text("format", re.compile(re.escape(REVOCATION_FORMAT)))
        made = cls(party=f.text("party", _PARTY), key_id=f.text("key_id", KEY_ID), kind=f.text("kind", _KIND),
                   revoked_at=f.text("revoked_at", _TIME), reason=f.text("reason", _REASON),
                   successor=f.text("successor", OPTIONAL_KEY_ID))
        f.done()
        return made
