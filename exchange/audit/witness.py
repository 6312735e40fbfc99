"""Mutual witnessing of audit logs: each side records the partner's signed checkpoints.

On every pull and every receipts run, a node reads the newest numbered checkpoint the partner
published in its outbound bucket (``audit/{PARTNER}/checkpoint-{seq:08d}.json`` + ``.minisig``,
see :mod:`exchange.audit.log`; the numbered objects are used rather than ``latest.json`` so a
half-updated pair is never read), verifies it with the partner's key and records a new one in
its own log (``witness`` entry: party, checkpoint seq, head). What it witnessed is kept in
``{home}/witness/{PARTNER}.json``. The partner can then no longer rewrite its log unnoticed:

* a checkpoint older than one witnessed before is ``checkpoint-backwards``;
* the same seq with another head is ``checkpoint-fork``;
* a checkpoint that does not verify is ``checkpoint-invalid`` (once: its seq is remembered, and
  the newest one below it that verifies is witnessed instead).

Each is an ``alarm`` audit entry, raised once per finding.
"""

from __future__ import annotations

import json

from exchange.atomic import write_json_atomic
from exchange.audit.alarms import raise_alarm
from exchange.audit.log import AuditError, AuditLog, Checkpoint, load_checkpoint
from exchange.errors import GcmxError
from exchange.protocol.limits import CHECKPOINT_MAX, SIGNATURE_MAX
from exchange.protocol.naming import (
    AUDIT,
    WITNESS,
    bucket_name,
    checkpoint_key,
    checkpoint_prefix,
    parse_checkpoint_key,
    signature_key,
)
from exchange.protocol.node import Node


def _published(node: Node, bucket: str, partner: str) -> list[int]:
    """Seqs of the checkpoints (with signatures) in ``bucket``, newest first."""
    keys = set(node.store.list_keys(bucket, checkpoint_prefix(partner)))
    seqs = [named[1] for k in keys
            if signature_key(k) in keys and (named := parse_checkpoint_key(k)) and named[0] == partner]
    return sorted(seqs, reverse=True)


def _load(node: Node, bucket: str, partner: str, seq: int, public) -> Checkpoint:
    key = checkpoint_key(partner, seq)
    data = node.store.get_bytes(bucket, key, CHECKPOINT_MAX)
    signature = node.store.get_bytes(bucket, signature_key(key), SIGNATURE_MAX)
    checkpoint = load_checkpoint(data, signature, public, f"s3://{bucket}/{key}")
    if checkpoint.party != partner or checkpoint.seq != seq:
        raise AuditError(f"s3://{bucket}/{key} holds {checkpoint.party}'s checkpoint seq {checkpoint.seq}")
    return checkpoint


def witness_partner(node: Node, partner: str) -> list[dict]:
    """Verify and record ``partner``'s newest valid audit checkpoint; return the alarms raised.

    A checkpoint that does not verify is ``checkpoint-invalid`` once and remembered; the newest
    one below it that verifies is witnessed, so junk planted at a high seq cannot stop witnessing.
    """
    bucket = bucket_name(partner, node.party)
    public = node.public_keys(partner).minisign  # a missing key is a set-up error, not an alarm
    path = node.folder(WITNESS) / f"{partner}.json"
    state = json.loads(path.read_text()) if path.exists() else {"heads": {}, "open": []}
    heads: dict[str, str] = state["heads"]
    invalid: list[int] = state.get("invalid", [])
    witnessed = max((int(s) for s in heads), default=0)
    findings, newest, checkpoint = [], None, None
    for seq in _published(node, bucket, partner):
        if seq in invalid:
            continue
        try:
            checkpoint, newest = _load(node, bucket, partner, seq, public), seq
            break
        except GcmxError as exc:
            if exc.transient:
                raise
            invalid.append(seq)
            findings.append(("checkpoint-invalid", f"s3://{bucket}/{checkpoint_key(partner, seq)}: {exc.message}"))
    if (newest or 0) < witnessed:
        findings.append(("checkpoint-backwards", f"s3://{bucket}/{AUDIT}/{partner}/: the newest checkpoint is "
                                                 f"seq {newest or 0}, but this node witnessed seq {witnessed}"))
    elif checkpoint and heads.get(str(newest), checkpoint.head) != checkpoint.head:
        findings.append(("checkpoint-fork", f"s3://{bucket}/{checkpoint_key(partner, newest)}: head "
                                            f"{checkpoint.head[:16]}… differs from the {heads[str(newest)][:16]}… "
                                            f"this node witnessed at seq {newest}"))
    elif checkpoint and str(newest) not in heads:
        heads[str(newest)] = checkpoint.head
        AuditLog.for_home(node.home, node.party).append(
            "witness", party_witnessed=partner, checkpoint_seq=newest, head=checkpoint.head,
            checkpoint_time=checkpoint.time)
    opened = [f"{kind}:{reason}" for kind, reason in findings]
    raised = [raise_alarm(node, kind, partner, reason) for (kind, reason), name in zip(findings, opened, strict=True)
              if name not in state["open"]]
    write_json_atomic(path, {"heads": heads, "open": opened, "invalid": sorted(invalid)})
    return raised
