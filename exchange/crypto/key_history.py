"""Key history: every key a party ever had, with the window in which it was valid.

``{PARTY}.keys.json`` lies in the keyring (a partner's keys, and this party's own copy) and in
the party's own identity folder. It is a :class:`KeyHistory` (``gcmx-keys/1``, read strictly)
listing each key: ``kind`` (``age`` | ``minisign`` | ``revocation``), ``key_id`` (hex: minisign's
own id, :func:`exchange.protocol.manifest.recipient_key_id` for age), ``public`` (the age
recipient or minisign's base64 line), ``valid_from`` / ``valid_until`` (exchange times, ``""`` =
open), ``revoked_at``, ``reason`` and ``successor`` (``""`` unless revoked; the successor is the
minisign key the revoked one had rotated to), ``introduced_by`` (``""`` for a key from the key
ceremony; for a minisign key, the old key whose rotation statement introduced it; for an age key,
the minisign key it came with).

A keyring without the file behaves as before: the ``.pub`` files are the one current key of each
kind, valid from the beginning; ``{PARTY}.revocation.pub`` (if there) is the revocation key.

Signatures are checked with :class:`TrustedKeys`: a minisign :class:`PublicKey` (the current
key, so it is shown, compared and written as before) that verifies with whichever key of the
history made the signature, so signatures and agreements made while a key was valid still verify
after a rotation. A revoked key verifies nothing signed at or after its revocation, and nothing
whose signing time is unknown.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from exchange.atomic import write_bytes_atomic
from exchange.canonical import canonical_json
from exchange.crypto.minisign import PublicKey, SignatureError, signature_key_id
from exchange.errors import ConfigError
from exchange.protocol.strict import Fields, parse_json

FORMAT = "gcmx-keys/1"
HISTORY_MAX = 1 << 20  # a history file is hand-carried and local; bound it all the same
KINDS = ("age", "minisign", "revocation")
KEY_ID = re.compile(r"[0-9A-Fa-f]{1,16}")
OPTIONAL_KEY_ID = re.compile(r"(?:[0-9A-Fa-f]{1,16})?")
_TIME = re.compile(r"(?:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z)?")
_KIND = re.compile("|".join(KINDS))
_FORMAT = re.compile(re.escape(FORMAT))
_PARTY = re.compile(r"[A-Z]{3}")
_HINT = "restore {PARTY}.keys.json from the key ceremony records, or remove it to fall back to the .pub files"


def moment(text: str) -> datetime:
    """An exchange time (``2026-11-27T07:28:42.123Z``, with or without fractions) as a datetime;
    anything else counts as the far future, so a malformed time never passes a window check."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return datetime.max.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age_key_id(recipient: str) -> str:
    """The key id of an age recipient (as the manifest's ``recipients[].key_id``)."""
    return hashlib.sha256(recipient.encode()).hexdigest()[:16]


def history_path(party: str, directory: Path) -> Path:
    """``{directory}/{PARTY}.keys.json``."""
    return Path(directory) / f"{party.upper()}.keys.json"


def revocation_public_path(party: str, directory: Path) -> Path:
    """``{directory}/{PARTY}.revocation.pub``: the public half of the offline revocation key."""
    return Path(directory) / f"{party.upper()}.revocation.pub"


@dataclass(frozen=True)
class KeyRecord:
    """One key of a party and the window in which it was valid."""

    kind: str
    key_id: str
    public: str
    valid_from: str = ""
    valid_until: str = ""
    revoked_at: str = ""
    reason: str = ""
    successor: str = ""
    introduced_by: str = ""

    @property
    def current(self) -> bool:
        """Valid now: not retired by a rotation and not revoked."""
        return not self.valid_until and not self.revoked_at

    def refusal(self, signed_at: str | None) -> str | None:
        """Why a signature by this key claiming time ``signed_at`` (None: unknown) is not
        acceptable, or None when it is."""
        at = None if signed_at is None else moment(signed_at)
        if self.revoked_at and (at is None or at >= moment(self.revoked_at)):
            when = "at an unknown time" if signed_at is None else f"at {signed_at}"
            return f"key {self.key_id} was revoked at {self.revoked_at} ({self.reason}); signed {when}"
        if at is not None and self.valid_until and at > moment(self.valid_until):
            return f"key {self.key_id} was retired at {self.valid_until}; signed at {signed_at}"
        if at is not None and self.valid_from and at < moment(self.valid_from):
            return f"key {self.key_id} is valid from {self.valid_from}; signed at {signed_at}"
        return None

    def to_dict(self) -> dict:
        """The record as a JSON value."""
        return {"kind": self.kind, "key_id": self.key_id, "public": self.public, "valid_from": self.valid_from,
                "valid_until": self.valid_until, "revoked_at": self.revoked_at, "reason": self.reason,
                "successor": self.successor, "introduced_by": self.introduced_by}

    @classmethod
    def read(cls, f: Fields) -> KeyRecord:
        """A record from its fields, read strictly."""
        made = cls(kind=f.text("kind", _KIND), key_id=f.text("key_id", KEY_ID), public=f.text("public"),
                   valid_from=f.text("valid_from", _TIME), valid_until=f.text("valid_until", _TIME),
                   revoked_at=f.text("revoked_at", _TIME), reason=f.text("reason"),
                   successor=f.text("successor", OPTIONAL_KEY_ID),
                   introduced_by=f.text("introduced_by", OPTIONAL_KEY_ID))
        f.done()
        return made


@dataclass(frozen=True)
class KeyHistory:
    """Every key of ``party`` with its window, oldest first."""

    party: str
    keys: tuple[KeyRecord, ...]
    format: str = FORMAT

    def of_kind(self, kind: str) -> list[KeyRecord]:
        """The keys of ``kind``, oldest first."""
        return [k for k in self.keys if k.kind == kind]

    def current(self, kind: str) -> KeyRecord | None:
        """The one key of ``kind`` valid now, or None."""
        now = [k for k in self.of_kind(kind) if k.current]
        return now[-1] if now else None

    def find(self, key_id: str, kind: str | None = None) -> KeyRecord | None:
        """The key with ``key_id`` (case-insensitive), of ``kind`` if given."""
        wanted = key_id.upper()
        return next((k for k in self.keys if k.key_id.upper() == wanted and kind in (None, k.kind)), None)

    def with_key(self, record: KeyRecord) -> KeyHistory:
        """This history with ``record`` added, or replacing the record of the same kind and id."""
        kept = [k for k in self.keys if (k.kind, k.key_id.upper()) != (record.kind, record.key_id.upper())]
        if len(kept) == len(self.keys):
            return replace(self, keys=(*self.keys, record))
        return replace(self, keys=tuple(record if (k.kind, k.key_id.upper()) == (record.kind, record.key_id.upper())
                                        else k for k in self.keys))

    def to_json(self) -> bytes:
        """The canonical bytes of ``{PARTY}.keys.json``."""
        return canonical_json({"format": self.format, "party": self.party,
                               "keys": [k.to_dict() for k in self.keys]})

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "key history") -> KeyHistory:
        """Parse strictly; ConfigError naming ``where`` and the field."""
        f = Fields(parse_json(data, "keys", where, ConfigError), "keys", where, ConfigError)
        f.text("format", _FORMAT)
        made = cls(party=f.text("party", _PARTY), keys=f.items("keys", KeyRecord.read))
        f.done()
        for kind in KINDS:
            if len([k for k in made.of_kind(kind) if k.current]) > 1:
                raise ConfigError(f"{where}: more than one current {kind} key", hint=_HINT)
        return made


def _public_of(record: KeyRecord) -> PublicKey:
    return PublicKey.from_string(record.public, f"{record.kind} key {record.key_id}")


def history_from_pub_files(party: str, directory: Path) -> KeyHistory:
    """The history an old keyring implies: its ``.pub`` files, valid from the beginning."""
    from exchange.crypto.keys import key_file_paths, read_age_recipient  # keys imports this module

    files = key_file_paths(party, directory)
    records = []
    if files.age_recipient.is_file():
        recipient = read_age_recipient(files.age_recipient)
        records.append(KeyRecord("age", age_key_id(recipient), recipient))
    if files.minisign_public.is_file():
        public = PublicKey.from_file(files.minisign_public)
        records.append(KeyRecord("minisign", public.key_id, public.base64))
    revocation = revocation_public_path(files.party, directory)
    if revocation.is_file():
        public = PublicKey.from_file(revocation)
        records.append(KeyRecord("revocation", public.key_id, public.base64))
    return KeyHistory(files.party, tuple(records))


def load_history(party: str, directory: Path) -> KeyHistory:
    """``party``'s key history in ``directory``: its ``keys.json``, else the ``.pub`` files."""
    path = history_path(party, directory)
    if not path.is_file():
        return history_from_pub_files(party, directory)
    data = path.read_bytes()
    if len(data) > HISTORY_MAX:
        raise ConfigError(f"{path} is larger than {HISTORY_MAX} bytes", hint=_HINT)
    history = KeyHistory.from_json(data, str(path))
    if history.party != party.upper():
        raise ConfigError(f"{path} holds the keys of {history.party}, not {party.upper()}", hint=_HINT)
    return history


def save_history(history: KeyHistory, directory: Path) -> Path:
    """Write ``{PARTY}.keys.json`` and the current ``.pub`` files it implies (atomically each)."""
    from exchange.crypto.keys import key_file_paths

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = key_file_paths(history.party, directory)
    age_now, sign_now, revoke_now = (history.current(k) for k in KINDS)
    if age_now:
        write_bytes_atomic(files.age_recipient, (age_now.public + "\n").encode())
    if sign_now:
        write_bytes_atomic(files.minisign_public, _public_of(sign_now).to_string().encode())
    if revoke_now:
        write_bytes_atomic(revocation_public_path(history.party, directory),
                           _public_of(revoke_now).to_string().encode())
    return write_bytes_atomic(history_path(history.party, directory), history.to_json())


class TrustedKeys(PublicKey):
    """A party's minisign keys over time: shown and compared as the current key, verifying with
    whichever key of the history made a signature (see the module docstring)."""

    def __init__(self, history: KeyHistory):
        signing = history.of_kind("minisign")
        if not signing:
            raise ConfigError(f"no minisign key of {history.party} in its key history",
                              hint=f"put {history.party}.minisign.pub from the key ceremony in the keyring")
        self.current = history.current("minisign")  # None once the last key was revoked
        shown = _public_of(self.current or signing[-1])
        super().__init__(shown._key_id, shown._key)
        self.history = history

    def verify_at(self, data: bytes, signature: bytes | str, source: str = "signature",
                  signed_at: str | None = None) -> str:
        """Like :meth:`verify`, for a signature claiming to be made at ``signed_at``: a key
        revoked at or before then, or outside its window then, is refused."""
        return self._verify_prehash(hashlib.blake2b(data).digest(), signature, source, signed_at)

    def verify_signer(self, data: bytes, signature: bytes | str, source: str = "signature") -> tuple[str, KeyRecord]:
        """The trusted comment and the key of the history that made ``signature``, whatever its
        window: for a signed object whose signing time is read from the object itself. The caller
        must then refuse it when ``record.refusal(that time)`` says so."""
        record = self._signer(signature, source)
        return _public_of(record).verify(data, signature, source), record

    def _signer(self, signature: bytes | str, source: str) -> KeyRecord:
        key_id = signature_key_id(signature, source)  # SignatureError when it is no signature
        record = self.history.find(key_id, "minisign")
        if record is None:
            raise SignatureError(
                f"{source} was signed by key {key_id}, which is not a key of {self.history.party} "
                f"(current {self.key_id})",
                hint=f"the keyring may miss a rotation of {self.history.party} (it is picked up on "
                     "the next pull), or the signature is not genuine")
        return record

    def _verify_prehash(self, prehash: bytes, signature: bytes | str, source: str,
                        signed_at: str | None = None) -> str:
        record = self._signer(signature, source)
        refusal = record.refusal(signed_at)
        if refusal:
            raise SignatureError(f"{source}: {refusal}",
                                 hint=f"{self.history.party} signs with its current key {self.key_id}; "
                                      "anything else signed by a revoked or retired key is refused")
        return _public_of(record)._verify_prehash(prehash, signature, source)

    def __repr__(self) -> str:
        return f"TrustedKeys(party={self.history.party}, current={self.key_id}, keys={len(self.history.keys)})"


def trusted_keys(party: str, directory: Path) -> TrustedKeys:
    """``party``'s minisign keys from ``directory`` (keyring or identity folder)."""
    return TrustedKeys(load_history(party, directory))
