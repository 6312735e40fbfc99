"""Tamper-evident audit log: append-only JSON Lines, hash-chained, with signed checkpoints.

Each party keeps ``{GCMX_HOME}/audit/{PARTY}.audit.jsonl``. Every line is one canonical JSON
object (:mod:`exchange.canonical`, with non-ASCII escaped)::

    {"event":"publish","exchange_id":"...","party":"KHM","prev":"<64 hex>","seq":7,"time":"...Z"}

``prev`` is the SHA-256 of the previous line's bytes *including its newline* (64 zeros for the
first line), so an auditor can check any link with stock tools::

    sed -n 6p KHM.audit.jsonl | sha256sum     # equals "prev" of line 7

A signed checkpoint (:class:`~exchange.audit.checkpoint.Checkpoint`: party, seq, head, time;
minisign, trusted comment naming party, seq and head) pins the head of the log in the party's
outbound buckets, where the partner can read it; checking the log against it also catches a
truncated tail or a consistently rewritten chain. Details are ids, hashes, counts and reasons
only: never record values or secrets.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.atomic import fsync_folder, write_bytes_atomic
from exchange.audit.chain import GENESIS, AuditVerdict, verify_log
from exchange.audit.checkpoint import AuditError, Checkpoint
from exchange.canonical import canonical_json
from exchange.clock import utc_now
from exchange.crypto.minisign import PublicKey, SecretKey
from exchange.errors import ConfigError, NotFound, SignatureError
from exchange.protocol.limits import CHECKPOINT_MAX, SIGNATURE_MAX
from exchange.protocol.naming import (
    AUDIT_FOLDER,
    CHECKPOINTS,
    LATEST_CHECKPOINT,
    audit_log_file,
    checkpoint_file,
    checkpoint_key,
    latest_checkpoint_key,
    signature_key,
)
from exchange.storage.s3 import Store

__all__ = ["GENESIS", "AuditError", "AuditLog", "AuditVerdict", "Checkpoint", "LocalCheckpoint", "defused",
           "fetch_latest_checkpoint", "latest_local_checkpoint", "load_checkpoint", "make_checkpoint",
           "publish_checkpoint", "read_local_checkpoint", "verify_log"]

RESERVED = frozenset({"seq", "time", "party", "event", "prev"})
_SECRET_WORDS = frozenset({"secret", "secrets", "password", "passwd", "passphrase", "token", "tokens",
                           "identity", "identities", "credential", "credentials", "private"})
_SECRET_LAST_WORDS = frozenset({"key", "keys"})  # ``key_id`` is an id; ``signing_key`` is not
_SECRET_VALUE_MARKERS = ("AGE-SECRET-KEY-", "AGE-PLUGIN-", "-----BEGIN")
_EVENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_HINT_VERIFY = "run `gcmx audit verify` and keep the log as it is for the auditors"




def _secret_like(name: str) -> bool:
    words = [w for w in re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()) if w]
    return bool(words) and (any(w in _SECRET_WORDS for w in words) or words[-1] in _SECRET_LAST_WORDS)


def defused(text: str) -> str:
    """Untrusted text (a planted object key, a partner's reason) made safe to record: the
    spellings the log refuses as key material are lower-cased, so text an attacker chose can
    never stop an audit entry from being written."""
    for marker in _SECRET_VALUE_MARKERS:
        text = text.replace(marker, marker.lower())
    return text


def _plain(name: str, value):
    """A JSON-ready copy of one detail value; refuses secrets by name or by look."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        if any(marker in value for marker in _SECRET_VALUE_MARKERS):
            raise ValueError(f"audit detail {name!r} looks like key material; log ids, not secrets")
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_plain(name, item) for item in items]
    if isinstance(value, dict):
        return _details(value)
    raise ValueError(f"audit detail {name!r} has unsupported type {type(value).__name__}")


def _details(details: dict) -> dict:
    clean = {}
    for name, value in details.items():
        if not isinstance(name, str) or not name:
            raise ValueError("audit detail names must be non-empty strings")
        if _secret_like(name):
            raise ValueError(f"audit detail {name!r} is named like a secret; audit entries never hold "
                             "keys, passwords, tokens or identities (log a key_id instead)")
        clean[name] = _plain(name, value)
    return clean


def _last_line(fd: int, path: Path) -> bytes | None:
    """The last line of the open file (with its newline), read backwards; None if empty."""
    end = os.fstat(fd).st_size
    if end == 0:
        return None
    tail, pos = b"", end
    while True:
        step = min(8192, pos)
        pos -= step
        tail = os.pread(fd, step, pos) + tail
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut >= 0 or pos == 0:
            line = tail[cut + 1:]
            break
    if not line.endswith(b"\n"):
        raise AuditError(f"audit log {path} ends with an incomplete line (an interrupted write?)",
                         hint=_HINT_VERIFY)
    return line


def _seq_of(line: bytes, path: Path, party: str) -> int:
    try:
        entry = json.loads(line)
        seq, owner = entry["seq"], entry["party"]
    except (ValueError, TypeError, KeyError):
        raise AuditError(f"the last line of audit log {path} is not a valid entry",
                         hint=_HINT_VERIFY) from None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise AuditError(f"the last line of audit log {path} has no valid seq", hint=_HINT_VERIFY)
    if owner != party:
        raise AuditError(f"audit log {path} belongs to {owner}, not {party}",
                         hint="point each party at its own GCMX_HOME")
    return seq


class AuditLog:
    """One party's append-only, hash-chained audit log; safe for several writing processes."""

    def __init__(self, path: Path, party: str):
        self.path = Path(path)
        self.party = party

    @classmethod
    def for_home(cls, home: Path, party: str) -> AuditLog:
        """The log at ``{home}/audit/{PARTY}.audit.jsonl``."""
        return cls(Path(home) / AUDIT_FOLDER / audit_log_file(party), party)

    @property
    def checkpoints_dir(self) -> Path:
        """Where local copies of this log's signed checkpoints are kept."""
        return self.path.parent / CHECKPOINTS

    def append(self, event: str, **details) -> dict:
        """Append one entry and fsync it; return the entry as written.

        Details are ids, hashes, counts and reasons. Raises ValueError for an invalid event
        name, a reserved or secret-like detail name, or a value that looks like key material.
        """
        if not isinstance(event, str) or not _EVENT.match(event):
            raise ValueError(f"audit event {event!r} must be a short lower-case name such as 'publish'")
        reserved = RESERVED & details.keys()
        if reserved:
            raise ValueError(f"audit details may not set {sorted(reserved)}: the log fills them in")
        clean = _details(details)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = _last_line(fd, self.path)
            seq = 0 if last is None else _seq_of(last, self.path, self.party)
            prev = GENESIS if last is None else hashlib.sha256(last).hexdigest()
            entry = {**clean, "seq": seq + 1, "time": utc_now(), "party": self.party,
                     "event": event, "prev": prev}
            line = canonical_json(entry, ascii=True) + b"\n"
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock
        if created:
            fsync_folder(self.path.parent)
        return entry

    def _lines(self) -> list[bytes]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as stream:
            fcntl.flock(stream.fileno(), fcntl.LOCK_SH)
            return stream.read().splitlines(keepends=True)

    def entries(self) -> list[dict]:
        """Every entry in file order (raises AuditError on a line that is not JSON)."""
        found = []
        for number, line in enumerate(self._lines(), start=1):
            try:
                found.append(json.loads(line))
            except ValueError:
                raise AuditError(f"line {number} of audit log {self.path} is not valid JSON",
                                 hint=_HINT_VERIFY) from None
        return found

    def head(self) -> tuple[int, str]:
        """The seq and SHA-256 of the last line; ``(0, GENESIS)`` for an empty log."""
        if not self.path.exists():
            return 0, GENESIS
        with open(self.path, "rb") as stream:
            fcntl.flock(stream.fileno(), fcntl.LOCK_SH)
            last = _last_line(stream.fileno(), self.path)
        if last is None:
            return 0, GENESIS
        return _seq_of(last, self.path, self.party), hashlib.sha256(last).hexdigest()

    def __repr__(self) -> str:
        return f"AuditLog(path={str(self.path)!r}, party={self.party!r})"




def make_checkpoint(log: AuditLog, signing_key: SecretKey) -> tuple[bytes, bytes]:
    """The canonical checkpoint of the log's head and its minisign signature."""
    seq, head = log.head()
    checkpoint = Checkpoint(log.party, seq, head, utc_now())
    data = checkpoint.to_json()
    return data, signing_key.sign(data, checkpoint.comment(), untrusted_comment="gcmx audit checkpoint")


def publish_checkpoint(log: AuditLog, signing_key: SecretKey, store: Store, buckets: list[str]) -> str:
    """Sign the head, put it in each outbound bucket and locally, record it; return its key.

    Writes ``checkpoint-{seq:08d}.json`` and ``latest.json`` (each with ``.minisig``) under
    ``audit/{PARTY}/``. A reader catching ``latest.json`` mid-update sees a signature error
    and reads again; the numbered checkpoints never change.
    """
    if not buckets:
        raise ConfigError(f"no outbound bucket to publish {log.party}'s audit checkpoint to",
                          hint="name the partners this party sends to (gcmx audit checkpoint --partner)")
    data, signature = make_checkpoint(log, signing_key)
    checkpoint = Checkpoint.from_json(data)
    key = checkpoint_key(log.party, checkpoint.seq)
    for name in (checkpoint_file(checkpoint.seq), LATEST_CHECKPOINT):
        write_bytes_atomic(log.checkpoints_dir / name, data)
        write_bytes_atomic(log.checkpoints_dir / signature_key(name), signature)
    for bucket in buckets:
        for object_key in (key, latest_checkpoint_key(log.party)):
            store.put_bytes(bucket, object_key, data)
            store.put_bytes(bucket, signature_key(object_key), signature)
    log.append("checkpoint", checkpoint_seq=checkpoint.seq, head=checkpoint.head, object=key,
               buckets=list(buckets))
    return key


def load_checkpoint(data: bytes, signature: bytes, public_key: PublicKey,
                    where: str = "audit checkpoint") -> Checkpoint:
    """Verify a checkpoint's signature and contents; return it.

    Raises SignatureError if the signature, or the trusted comment it covers, does not match,
    and AuditError (naming the field) if the signed bytes are not a checkpoint.
    """
    comment = public_key.verify(data, signature, source=f"{where} signature")
    checkpoint = Checkpoint.from_json(data, where)
    if comment != checkpoint.comment():
        raise SignatureError(f"{where}: trusted comment does not match its contents",
                             hint="the checkpoint and signature belong to different heads; fetch both again")
    return checkpoint


def fetch_latest_checkpoint(store: Store, bucket: str, party: str, public_key: PublicKey) -> Checkpoint:
    """Read and verify ``party``'s latest checkpoint from ``bucket``."""
    latest = latest_checkpoint_key(party)
    data = store.get_bytes(bucket, latest, CHECKPOINT_MAX)
    signature = store.get_bytes(bucket, signature_key(latest), SIGNATURE_MAX)
    return load_checkpoint(data, signature, public_key, f"s3://{bucket}/{latest}")


@dataclass(frozen=True)
class LocalCheckpoint:
    """A checkpoint file kept locally, as read: not yet verified."""

    path: Path
    data: bytes
    signature: bytes | None  # None when its ``.minisig`` is missing

    def claimed(self) -> dict | None:
        """What the file says (to find the key, to show); the signature decides. None if not a JSON object."""
        try:
            found = json.loads(self.data)
        except (ValueError, RecursionError):
            return None
        return found if isinstance(found, dict) else None

    def verified(self, public_key: PublicKey) -> Checkpoint:
        """The checkpoint once its signature verifies (see :func:`load_checkpoint`)."""
        if self.signature is None:
            raise NotFound(f"signature {signature_key(str(self.path))} of checkpoint {self.path} does not exist",
                           hint="keep the checkpoint together with its .minisig")
        return load_checkpoint(self.data, self.signature, public_key, str(self.path))


def read_local_checkpoint(path: Path) -> LocalCheckpoint:
    """A checkpoint file and its ``.minisig`` beside it."""
    path = Path(path)
    signature = Path(signature_key(str(path)))
    return LocalCheckpoint(path, path.read_bytes(), signature.read_bytes() if signature.is_file() else None)


def latest_local_checkpoint(log: AuditLog) -> LocalCheckpoint | None:
    """The log's latest local checkpoint (``audit/checkpoints/latest.json``), or None if none was made."""
    latest = log.checkpoints_dir / LATEST_CHECKPOINT
    return read_local_checkpoint(latest) if latest.is_file() else None
