"""Freshness: each sender's signed, hash-chained index of everything it published in a direction.

Like a transparency log, the index lets the recipient notice what a leaked bucket key can still
do although it cannot forge a manifest: delete, withhold or replace an exchange. Layout, in the
sender's outbound bucket (``khm-to-tha``)::

    index/{seq:08d}.json           one IndexEntry, canonical JSON (exchange.canonical)
    index/{seq:08d}.json.minisig   minisign signature, trusted comment
                                   ``gcmx index KHM->THA seq=7 sha256=<sha256 of the entry bytes>``

An entry names sequence, exchange id, dataset, period, manifest SHA-256 (of the signed manifest
bytes) and ciphertext SHA-256, and ``prev``: the SHA-256 of entry ``seq - 1`` (64 zeros for the
first). Entries are written create-only, signature first, so a listed entry has its signature.
The newest listed entry is the head: its signature is verified with the sender's key and the
older entries are verified through the hash chain down to what the recipient saw last time.

Sender: ``{home}/freshness/to-{RECIPIENT}.jsonl`` is its own record of the index (the bucket is
never trusted for it). :func:`sync_index`, called at the end of every publish, appends every
local outbound record (``outbound/{id}/manifest.json``) of that direction not yet indexed whose
signed manifest is in the bucket, in publishing order, then uploads any entry the bucket lacks;
so a publish that crashed before indexing is indexed by the next one (or by ``gcmx receipts``).
The recipient's side is :mod:`exchange.protocol.freshness_check`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from exchange.atomic import write_text_atomic
from exchange.audit.alarms import raise_alarm
from exchange.canonical import canonical_json
from exchange.errors import ObjectTooLarge, ProtocolError
from exchange.protocol.limits import SIGNATURE_MAX, STATEMENT_MAX
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import (
    FRESHNESS,
    MANIFEST,
    OUTBOUND,
    SIGNATURE,
    bucket_name,
    index_key,
    signature_key,
)
from exchange.protocol.node import Node
from exchange.protocol.strict import Fields, parse_json

FORMAT = "gcmx-index/1"
GENESIS = "0" * 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PATTERNS = {
    "format": re.compile(rf"^{re.escape(FORMAT)}$"),
    "sender": re.compile(r"^[A-Z]{3}$"),
    "recipient": re.compile(r"^[A-Z]{3}$"),
    "bucket": re.compile(r"^[a-z]{3}-to-[a-z]{3}$"),
    "exchange_id": re.compile(r"^[0-9a-f]{32}$"),
    "dataset": _NAME,
    "period": _NAME,
    "created": re.compile(r"^[0-9A-Za-z:.+-]{1,40}$"),
    "manifest_sha256": re.compile(r"^[0-9a-f]{64}$"),
    "ciphertext_sha256": re.compile(r"^[0-9a-f]{64}$"),
    "prev": re.compile(r"^[0-9a-f]{64}$"),
}
@dataclass(frozen=True)
class IndexEntry:
    """One published exchange in the sender's index of a direction."""

    format: str
    sender: str
    recipient: str
    bucket: str
    seq: int
    exchange_id: str
    dataset: str
    period: str
    created: str
    manifest_sha256: str
    ciphertext_sha256: str
    prev: str

    @property
    def prefix(self) -> str:
        return f"{self.dataset}/{self.period}/{self.exchange_id}"

    def to_json(self) -> bytes:
        """The canonical bytes that are hashed, chained and signed."""
        return canonical_json(asdict(self))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_json()).hexdigest()

    def comment(self) -> str:
        """The trusted comment of this entry's signature."""
        return f"gcmx index {self.sender}->{self.recipient} seq={self.seq} sha256={self.sha256}"

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "index entry") -> IndexEntry:
        """Parse canonical entry bytes; ProtocolError (naming ``where`` and the field) otherwise."""
        data = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        if len(data) > STATEMENT_MAX:
            raise ObjectTooLarge(f"{where}: index entry larger than {STATEMENT_MAX} bytes",
                                 hint="no genuine index entry is that large; it was planted", limit=STATEMENT_MAX)
        f = Fields(parse_json(data, "index entry", where), "index entry", where)
        seq = f.count("seq")
        if not 1 <= seq <= 99_999_999:
            raise f.fail("seq", "is not a number from 1 to 99999999")
        entry = cls(seq=seq, **{name: f.text(name, pattern) for name, pattern in _PATTERNS.items()})
        f.done()
        if entry.to_json() != data:
            raise ProtocolError(f"{where}: index entry is not in canonical form",
                                hint="it was not written by gcmx; it was planted or altered")
        return entry


def _local_path(node: Node, recipient: str) -> Path:
    return node.folder(FRESHNESS) / f"to-{recipient}.jsonl"


def local_index(node: Node, recipient: str) -> list[IndexEntry]:
    """The sender's own record of its index towards ``recipient``."""
    path = _local_path(node, recipient)
    if not path.exists():
        return []
    return [IndexEntry.from_json(line, str(path)) for line in path.read_bytes().splitlines() if line]


def _unindexed(node: Node, bucket: str, indexed: set[str]) -> list[Manifest]:
    """Local outbound records of ``bucket`` not yet indexed whose signed manifest is in the bucket
    (a record kept before its upload finished is indexed by a later sync, never too early)."""
    found = []
    for path in node.folder(OUTBOUND).glob(f"*/{MANIFEST}"):
        manifest = Manifest.from_json(path.read_bytes(), str(path))
        if manifest.bucket == bucket and manifest.exchange_id not in indexed \
                and node.store.exists(bucket, f"{manifest.prefix}/{SIGNATURE}"):
            found.append(manifest)
    return sorted(found, key=lambda m: (m.created, m.sequence, m.exchange_id))


def _entry(node: Node, recipient: str, bucket: str, seq: int, prev: str, manifest: Manifest) -> IndexEntry:
    return IndexEntry(format=FORMAT, sender=node.party, recipient=recipient, bucket=bucket, seq=seq,
                      exchange_id=manifest.exchange_id, dataset=manifest.dataset,
                      period=manifest.period, created=manifest.created,
                      manifest_sha256=manifest.sha256, ciphertext_sha256=manifest.ciphertext.sha256, prev=prev)


def put_ours(node: Node, bucket: str, key: str, data: bytes, limit: int) -> bool:
    """Create ``key`` with ``data`` (create-only); True if it now holds exactly ``data``: ours,
    or our own earlier retry's. False when someone else's bytes are already there."""
    if node.store.put_if_absent(bucket, key, data):
        return True
    try:
        return node.store.get_bytes(bucket, key, limit) == data
    except ObjectTooLarge:
        return False


def sync_index(node: Node, recipient: str) -> list[IndexEntry]:
    """Index every local outbound record towards ``recipient`` and upload missing entries.

    Idempotent, safe beside a concurrent publish (a file lock orders the appends); entries are
    uploaded once (``to-{RECIPIENT}.uploaded`` keeps how far). An entry's key already holding
    other bytes is an alarm (``index-slot-taken``), raised once; uploading stops there until it is
    removed, and the next sync goes on from it. Returns the whole index.
    """
    bucket = bucket_name(node.party, recipient)
    path = _local_path(node, recipient)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        entries = local_index(node, recipient)
        added = []
        for manifest in _unindexed(node, bucket, {e.exchange_id for e in entries}):
            prev = entries[-1].sha256 if entries else GENESIS
            entries.append(_entry(node, recipient, bucket, len(entries) + 1, prev, manifest))
            added.append(entries[-1].to_json() + b"\n")
        if added:
            with open(path, "ab") as out:
                out.write(b"".join(added))
                out.flush()
                os.fsync(out.fileno())
        uploaded = path.with_suffix(".uploaded")
        done = int(uploaded.read_text()) if uploaded.exists() else 0
        for entry in entries[done:]:
            key = index_key(entry.seq)
            body = entry.to_json()
            signature = node.identity.signing_key.sign(body, entry.comment())
            if not (put_ours(node, bucket, signature_key(key), signature, SIGNATURE_MAX)
                    and put_ours(node, bucket, key, body, STATEMENT_MAX)):
                taken = path.with_suffix(".taken")  # the seq alarmed about, so the alarm is raised once
                if not taken.exists() or taken.read_text().strip() != str(entry.seq):
                    raise_alarm(node, "index-slot-taken", recipient,
                                f"s3://{bucket}/{key} already holds an index entry this node did not write; "
                                f"remove it and re-run publish", exchange_id=entry.exchange_id, index_seq=entry.seq)
                    write_text_atomic(taken, f"{entry.seq}\n")
                break  # uploaded again, with the entries after it, by the first sync once it is removed
            write_text_atomic(uploaded, f"{entry.seq}\n")
    return entries
