"""Mutual witnessing of audit logs: each side records the partner's signed checkpoints.

On every pull and every receipts run, a node reads the newest numbered checkpoint the partner
published in its outbound bucket (``audit/{PARTNER}/checkpoint-{seq:08d}.json`` + ``.minisig``,
see :mod:`exchange.audit`; the numbered objects are used rather than ``latest.json`` so a
half-updated pair is never read), verifies it with the partner's key and records a new one in
its own log (``witness`` entry: party, checkpoint seq, head). What it witnessed is kept in
``{home}/witness/{PARTNER}.json``. The partner can then no longer rewrite its log unnoticed:

* a checkpoint older than one witnessed before is ``checkpoint-backwards``;
* the same seq with another head is ``checkpoint-fork``;
* a newest checkpoint that does not verify is ``checkpoint-invalid``.

Each is an ``alarm`` audit entry, raised once per finding.
"""

from __future__ import annotations

import json
import re

from exchange.alarms import raise_alarm
from exchange.audit import AuditError, AuditLog, checkpoint_key, load_checkpoint
from exchange.errors import GcmxError
from exchange.limits import CHECKPOINT_MAX, SIGNATURE_MAX
from exchange.node import Node, write_json_atomic
from exchange.seaweed import bucket_name


def _newest(node: Node, bucket: str, partner: str) -> int | None:
    pattern = re.compile(rf"^audit/{partner}/checkpoint-(?P<seq>[0-9]{{8}})\.json$")
    keys = set(node.store.list_keys(bucket, f"audit/{partner}/checkpoint-"))
    seqs = [int(m["seq"]) for k in keys if (m := pattern.fullmatch(k)) and k + ".minisig" in keys]
    return max(seqs, default=None)


def witness_partner(node: Node, partner: str) -> list[dict]:
    """Verify and record ``partner``'s newest audit checkpoint; return the alarms raised."""
    bucket = bucket_name(partner, node.party)
    public = node.public_keys(partner).minisign  # a missing key is a set-up error, not an alarm
    path = node.folder("witness") / f"{partner}.json"
    state = json.loads(path.read_text()) if path.exists() else {"heads": {}, "open": []}
    heads: dict[str, str] = state["heads"]
    newest = _newest(node, bucket, partner)
    witnessed = max((int(s) for s in heads), default=0)
    finding = None
    if newest is None or newest < witnessed:
        if witnessed:
            finding = ("checkpoint-backwards", f"s3://{bucket}/audit/{partner}/: the newest checkpoint is "
                                               f"seq {newest or 0}, but this node witnessed seq {witnessed}")
    else:
        key = checkpoint_key(partner, newest)
        try:
            data = node.store.get_bytes(bucket, key, CHECKPOINT_MAX)
            signature = node.store.get_bytes(bucket, key + ".minisig", SIGNATURE_MAX)
            checkpoint = load_checkpoint(data, signature, public)
            if checkpoint["party"] != partner or checkpoint["seq"] != newest:
                raise AuditError(f"s3://{bucket}/{key} holds {checkpoint['party']}'s checkpoint seq "
                               f"{checkpoint['seq']}")
        except GcmxError as exc:
            if exc.transient:
                raise
            checkpoint, finding = None, ("checkpoint-invalid", f"s3://{bucket}/{key}: {exc.message}")
        if checkpoint and heads.get(str(newest), checkpoint["head"]) != checkpoint["head"]:
            finding = ("checkpoint-fork", f"s3://{bucket}/{key}: head {checkpoint['head'][:16]}… differs from "
                                          f"the {heads[str(newest)][:16]}… this node witnessed at seq {newest}")
        elif checkpoint and str(newest) not in heads:
            heads[str(newest)] = checkpoint["head"]
            AuditLog.for_home(node.home, node.party).append(
                "witness", party_witnessed=partner, checkpoint_seq=newest, head=checkpoint["head"],
                checkpoint_time=checkpoint["time"])
    raised = []
    opened = [f"{finding[0]}:{finding[1]}"] if finding else []
    if finding and opened[0] not in state["open"]:
        raised.append(raise_alarm(node, finding[0], partner, finding[1]))
    write_json_atomic(path, {"heads": heads, "open": opened})
    return raised
