"""Alarms: signs that someone with a bucket key (or a partner) tampered with the exchange.

A check that fails because of the *store* rather than the exchange itself — a receipt slot
already taken, an exchange deleted, withheld or replaced behind the sender's index, a partner's
audit checkpoint going backwards or forking — is recorded as one ``alarm`` audit entry::

    {"event":"alarm","kind":"exchange-withheld","partner":"KHM","exchange_id":"...","reason":"..."}

``pull`` and ``receipts`` exit 1 when their run recorded an alarm (:func:`alarms_since`), and
the auditor's report lists every alarm in red. A condition that lasts (an exchange still
missing) is audited once, when it is first seen, not on every run.
"""

from __future__ import annotations

from exchange.audit.log import AuditLog, defused
from exchange.protocol.node import Node

KINDS = frozenset({
    "receipt-slot-taken",      # our receipt's key already holds other bytes
    "index-invalid",           # the sender's index does not verify (signature, format, chain)
    "index-rollback",          # the sender's index is shorter than what we saw before
    "index-fork",              # the sender's index differs from what we saw before at some seq
    "index-slot-taken",        # our own index entry's key already holds other bytes
    "exchange-withheld",       # listed in the sender's index, never delivered to us
    "exchange-deleted",        # listed in the sender's index, received once, now gone
    "exchange-replaced",       # listed in the sender's index with another manifest hash
    "exchange-unindexed",      # present in the bucket, missing from an index that moved past it
    "checkpoint-invalid",      # the partner's audit checkpoint does not verify
    "checkpoint-backwards",    # the partner's audit checkpoint is older than one we witnessed
    "checkpoint-fork",         # same seq as a witnessed checkpoint, another head
    "manifest-untrusted",      # a manifest in our own bucket that we did not write (planted)
    "manifest-replaced",       # the partner rejected our exchange over a manifest we did not sign
    "manifest-time-skew",      # a manifest dated far from when the store says it appeared (issue 15)
    "key-statement-invalid",   # a partner's rotation or revocation statement that does not hold
    "revoked-key-late-arrival",  # an exchange signed by a revoked key, dated before the revocation, seen after
    "key-statement-foreign",   # a key statement in our own bucket that we did not make (stolen key?)
    "key-statements-flooded",  # more statements in a partner's bucket than one pull reads (planted?)
    "retired-key-late-arrival",  # an exchange signed by a key retired by a rotation, first seen after it
})


def raise_alarm(node: Node, kind: str, partner: str, reason: str, **details) -> dict:
    """Record one alarm in this node's audit log and return the entry.

    An alarm is about something untrusted (a planted key, a partner's object): its text is
    recorded :func:`~exchange.audit.log.defused`, so no planted spelling can stop the entry."""
    if kind not in KINDS:
        raise ValueError(f"unknown alarm kind {kind!r}")
    details = {k: defused(v) if isinstance(v, str) else v for k, v in details.items()}
    return AuditLog.for_home(node.home, node.party).append(
        "alarm", kind=kind, partner=partner, reason=defused(reason[:400]), **details)


def audit_seq(node: Node) -> int:
    """The audit log's current head seq, to find the alarms a run is about to record."""
    return AuditLog.for_home(node.home, node.party).head()[0]


def alarms_since(node: Node, seq: int) -> list[dict]:
    """Alarm entries recorded after audit seq ``seq`` (by this run)."""
    entries = AuditLog.for_home(node.home, node.party).entries()
    return [e for e in entries if e.get("seq", 0) > seq and e.get("event") == "alarm"]
