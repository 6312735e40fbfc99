"""The recipient's side of freshness: check the sender's index against the bucket on every pull.

See :mod:`exchange.protocol.freshness` for the index. On every pull the recipient

1. verifies the newest entry's signature with the sender's key, and the chain from it down to
   the newest entry it saw last time (kept in ``{home}/freshness/from-{SENDER}.json``): an index
   that got shorter is ``index-rollback``, one that differs from what it saw is ``index-fork``,
   a bad signature, a malformed or missing entry is ``index-invalid``;
2. checks every indexed exchange against the bucket: prefix gone (never received by us:
   ``exchange-withheld``; received before: ``exchange-deleted``), manifest bytes with another
   SHA-256 than indexed (``exchange-replaced``);
3. notices a complete exchange that is not in the index although the index moved on since it
   was first seen (``exchange-unindexed``).

Each finding is an ``alarm`` audit entry, recorded when it first appears (not on every pull).
Nothing here blocks receiving: every exchange is still verified on its own by ``receive``.
"""

from __future__ import annotations

import hashlib
import json

from exchange.atomic import write_json_atomic
from exchange.audit.alarms import raise_alarm
from exchange.audit.witness import witness_partner
from exchange.errors import NotFound, ProtocolError, SignatureError
from exchange.protocol.freshness import GENESIS, IndexEntry
from exchange.protocol.inbound_checks import decision_path
from exchange.protocol.limits import MANIFEST_MAX, SIGNATURE_MAX, STATEMENT_MAX
from exchange.protocol.naming import (
    FRESHNESS,
    INDEX,
    MANIFEST,
    ExchangeRef,
    bucket_name,
    index_key,
    list_exchanges,
    parse_index_key,
    signature_key,
)
from exchange.protocol.node import Node
from exchange.protocol.retention import retention_explains


class _Finding(Exception):
    """One alarm found while walking the index (kind, reason)."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind, self.reason = kind, reason


def _read_entry(node: Node, bucket: str, seq: int) -> tuple[IndexEntry, bytes]:
    where = f"s3://{bucket}/{index_key(seq)}"
    try:
        body = node.store.get_bytes(bucket, index_key(seq), STATEMENT_MAX)
        entry = IndexEntry.from_json(body, where)
    except NotFound:
        raise _Finding("index-invalid", f"{where} is missing: the index was cut") from None
    except ProtocolError as exc:
        raise _Finding("index-invalid", exc.message) from None
    if entry.seq != seq:
        raise _Finding("index-invalid", f"{where} holds entry seq {entry.seq}")
    return entry, body


def _verified_head(node: Node, partner: str, bucket: str, seq: int) -> IndexEntry:
    entry, body = _read_entry(node, bucket, seq)
    where = f"s3://{bucket}/{signature_key(index_key(seq))}"
    try:
        signature = node.store.get_bytes(bucket, signature_key(index_key(seq)), SIGNATURE_MAX)
        comment = node.public_keys(partner).minisign.verify(body, signature, source=where)
    except (SignatureError, ProtocolError, NotFound) as exc:
        raise _Finding("index-invalid", f"{where}: {exc.message}") from None
    expected = {"sender": partner, "recipient": node.party, "bucket": bucket}
    if comment != entry.comment() or any(getattr(entry, k) != v for k, v in expected.items()):
        raise _Finding("index-invalid", f"{where}: signed for another index or entry ({comment[:120]!r})")
    return entry


def _extend(node: Node, partner: str, bucket: str, known: list[IndexEntry], top: int) -> list[IndexEntry]:
    """The entries after ``known`` up to ``top``, verified from the signed head down the chain."""
    last = known[-1] if known else None
    if last and top < last.seq:
        raise _Finding("index-rollback", f"s3://{bucket}/{INDEX}/: the index ends at seq {top}, but this "
                                         f"node saw it reach seq {last.seq}: entries were removed")
    head = _verified_head(node, partner, bucket, top)
    if last and top == last.seq:
        if head.sha256 != last.sha256:
            raise _Finding("index-fork", f"s3://{bucket}/{index_key(top)} differs from the entry this "
                                         f"node saw at seq {top}: the index was rewritten")
        return []
    new, need = [head], head.prev
    for seq in range(top - 1, last.seq if last else 0, -1):
        entry, body = _read_entry(node, bucket, seq)
        if hashlib.sha256(body).hexdigest() != need:
            raise _Finding("index-invalid", f"s3://{bucket}/{index_key(seq)} does not chain to the "
                                            "signed head: it was altered")
        new.append(entry)
        need = entry.prev
    if need != (last.sha256 if last else GENESIS):
        raise _Finding("index-fork", f"s3://{bucket}/{INDEX}/: the index no longer extends the one this "
                                     f"node saw up to seq {last.seq if last else 0}: it was rewritten")
    return list(reversed(new))


def _exchange_findings(node: Node, partner: str, bucket: str, entries: list[IndexEntry], present: set[str]) -> dict:
    found = {}
    for entry in entries:
        where = f"s3://{bucket}/{entry.prefix}"
        if entry.prefix not in present:
            if retention_explains(node, partner, entry.dataset, entry.created):
                continue  # deleted when its retention ended (issue 15): no alarm
            decided = decision_path(node, partner, ExchangeRef(bucket, entry.dataset, entry.period, entry.exchange_id))
            kind = "exchange-deleted" if decided.exists() else "exchange-withheld"
            found[(kind, entry.exchange_id)] = (f"{where}: indexed at seq {entry.seq} by the sender, but "
                                                "its signed manifest is not in the bucket")
            continue
        try:
            body = node.store.get_bytes(bucket, f"{entry.prefix}/{MANIFEST}", MANIFEST_MAX)
            digest = hashlib.sha256(body).hexdigest()
        except (NotFound, ProtocolError):
            digest = "unreadable"
        if digest != entry.manifest_sha256:
            found[("exchange-replaced", entry.exchange_id)] = (
                f"{where}/{MANIFEST}: SHA-256 {digest[:16]}… is not the {entry.manifest_sha256[:16]}… the "
                f"sender indexed at seq {entry.seq}: the manifest was replaced")
    return found


def _state_path(node: Node, partner: str):
    return node.folder(FRESHNESS) / f"from-{partner}.json"


def check_index(node: Node, partner: str) -> list[dict]:
    """Check ``partner``'s index and bucket; record new findings as alarms and return them."""
    bucket = bucket_name(partner, node.party)
    path = _state_path(node, partner)
    state = json.loads(path.read_text()) if path.exists() else {"entries": [], "open": [], "unindexed": {}}
    known = [IndexEntry.from_json(e.encode(), str(path)) for e in state["entries"]]
    seqs = {seq for k in node.store.list_keys(bucket, f"{INDEX}/") if (seq := parse_index_key(k)) is not None}
    findings: dict[tuple[str, str], str] = {}
    top, run = max(seqs, default=0), known[-1].seq if known else 0
    while run + 1 in seqs:
        run += 1  # the sender's entries follow each other: one beyond a gap is planted, or its
    if run < top:  # predecessor removed; either way the index is still checked up to the gap
        findings[("index-invalid", "index")] = (f"s3://{bucket}/{index_key(run + 1)} is missing, yet entries "
                                                f"go on to seq {top}: planted beyond the index, or cut from it")
        top = run
    if top or known:
        try:
            known += _extend(node, partner, bucket, known, top)
        except _Finding as found:
            findings[(found.kind, "index")] = found.reason
    present = {ref.prefix for ref in list_exchanges(node.store, bucket)}
    findings.update(_exchange_findings(node, partner, bucket, known, present))
    top, indexed = (known[-1].seq if known else 0), {e.prefix for e in known}
    unindexed = {p: state["unindexed"].get(p, top) for p in sorted(present - indexed)}
    for prefix, first_seen in unindexed.items():
        if top > first_seen:
            findings[("exchange-unindexed", prefix)] = (
                f"s3://{bucket}/{prefix}: a complete exchange the sender's index does not list, though the "
                f"index moved from seq {first_seen} to {top} since it appeared")
    raised = []
    for (kind, subject), reason in sorted(findings.items()):
        if f"{kind}:{subject}" not in state["open"]:
            details = {} if subject == "index" else {"exchange_id": subject.rsplit("/", 1)[-1]}
            details.update({"prefix": subject} if "/" in subject else {})
            raised.append(raise_alarm(node, kind, partner, reason, **details))
    write_json_atomic(path, {"entries": [e.to_json().decode() for e in known],
                             "open": sorted(f"{k}:{s}" for k, s in findings),
                             "unindexed": unindexed})
    return raised


def watch_partner(node: Node, partner: str) -> list[dict]:
    """Everything a recipient checks about ``partner``'s bucket on every pull: its index of
    exchanges and its audit checkpoint. Returns the alarms raised by this call."""
    return check_index(node, partner) + witness_partner(node, partner)
