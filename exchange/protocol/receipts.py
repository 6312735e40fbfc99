"""Signed receipts: the recipient's answer to every exchange, accepted or rejected.

A receipt travels in the recipient's own outbound bucket under
``receipts/{dataset}/{period}/{exchange_id}.json`` (and ``.minisig``), so a receipt about a
copy of an exchange under another prefix can never stand for the original. The sender
collects it and accepts it only when its signature verifies with the recipient's key and its
exchange id, dataset and period equal both its key and the sender's own outbound record, and
its ``manifest_sha256`` is the hash of the manifest the sender signed. Anything else is an
``invalid`` receipt, audited once and remembered by its content (``outbound/{id}/invalid-receipts.json``),
so a genuine receipt written at the same key after a planted one is removed is still read.
An exchange counts as delivered only with a valid, accepted receipt.

The recipient writes its receipt create-only. When the key already holds other bytes (planted
with a leaked bucket key), the receipt was *not* sent: that is an ``alarm``
(``receipt-slot-taken``), never a silent success.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from exchange.atomic import write_json_atomic
from exchange.audit.alarms import raise_alarm
from exchange.audit.log import AuditLog, defused
from exchange.audit.witness import witness_partner
from exchange.errors import NotFound, ObjectTooLarge, ProtocolError, SignatureError
from exchange.protocol.freshness import put_ours, sync_index
from exchange.protocol.limits import RECEIPT_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import canonical_json, trusted_comment
from exchange.protocol.naming import (
    MANIFEST,
    OUTBOUND,
    RECEIPTS,
    bucket_name,
    parse_receipt_key,
    receipt_key,
    signature_key,
)
from exchange.protocol.node import Node


def _comment(doc: dict) -> str:
    return trusted_comment("receipt", doc["exchange_id"], doc["dataset"], doc["period"], doc["sender"],
                           doc["receiver"])


@dataclass(frozen=True)
class ReceiptSent:
    """What became of one receipt this node wrote: ``sent`` or ``slot-taken`` (an alarm)."""

    key: str
    status: str


def send_receipt(node: Node, partner: str, doc: dict, alarm: bool = True) -> ReceiptSent:
    """Sign ``doc`` and write it (create-only) into this node's bucket towards ``partner``.

    A key already holding other bytes is an alarm (``receipt-slot-taken``, unless ``alarm`` is
    False: already raised for this receipt) and the receipt counts as not sent, to be sent
    again once the slot is cleared; the same bytes (a retry of ours) count as sent.
    """
    bucket = bucket_name(node.party, partner)
    key = receipt_key(doc["dataset"], doc["period"], doc["exchange_id"])
    body = canonical_json(doc)
    signature = node.identity.signing_key.sign(body, _comment(doc))
    if not (put_ours(node, bucket, key, body, RECEIPT_MAX)
            and put_ours(node, bucket, signature_key(key), signature, SIGNATURE_MAX)):
        if alarm:
            raise_alarm(node, "receipt-slot-taken", partner,
                        f"s3://{bucket}/{key} already holds a receipt this node did not write; "
                        f"{partner} cannot learn our decision ({doc['status']}) until it is removed "
                        f"(the receipt goes out on the next pull after that)",
                        exchange_id=doc["exchange_id"], dataset=doc["dataset"], period=doc["period"],
                        status=doc["status"])
        return ReceiptSent(key, "slot-taken")
    AuditLog.for_home(node.home, node.party).append(
        "receipt", direction="sent", exchange_id=doc["exchange_id"], status=doc["status"], to=partner)
    return ReceiptSent(key, "sent")


@dataclass(frozen=True)
class ReceiptStatus:
    """What the sender knows of one exchange after collecting receipts."""

    exchange_id: str
    status: str  # accepted | rejected | invalid
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _own_record(folder: Path) -> tuple[dict, str]:
    """Our outbound manifest for an exchange and the SHA-256 of the bytes we signed."""
    manifest = json.loads((folder / MANIFEST).read_text())
    return manifest, hashlib.sha256(canonical_json(manifest)).hexdigest()


def _check(doc, key_parts: dict, own: dict, own_sha: str, node: Node, partner: str, where: str) -> None:
    if not isinstance(doc, dict):
        raise ProtocolError(f"{where}: receipt is not a JSON object", hint="ask the partner to re-send it")
    expected = {**key_parts, "sender": node.party, "receiver": partner, "manifest_sha256": own_sha}
    for name, value in expected.items():
        if doc.get(name) != value:
            raise ProtocolError(f"{where}: receipt {name} is {str(doc.get(name))[:80]!r}, expected {value!r}",
                                hint="the receipt is about another exchange, prefix or manifest than the "
                                     "one this node signed; tell the partner")
    for name in ("dataset", "period"):
        if own.get(name) != key_parts[name]:
            raise ProtocolError(f"{where}: receipt is for {name} {key_parts[name]!r}, this node sent "
                                f"{own.get(name)!r}", hint="a copied exchange; the genuine one is unaffected")
    if doc.get("status") not in ("accepted", "rejected"):
        raise ProtocolError(f"{where}: receipt status {str(doc.get('status'))[:40]!r}",
                            hint="ask the partner to re-send the receipt")


def _remember_invalid(folder: Path, seen: str, reason: str) -> None:
    path = folder / "invalid-receipts.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    write_json_atomic(path, {**known, seen: reason})


def _known_invalid(folder: Path) -> dict:
    path = folder / "invalid-receipts.json"
    return json.loads(path.read_text()) if path.exists() else {}


def collect_receipts(node: Node, partner: str) -> list[ReceiptStatus]:
    """Fetch and verify new receipts from ``partner`` for this node's exchanges.

    Each invalid receipt is audited and returned once, then remembered and skipped. Also
    uploads any entry of this node's index towards ``partner`` still missing from the bucket,
    and witnesses the partner's newest audit checkpoint (both may raise alarms).
    """
    sync_index(node, partner)
    witness_partner(node, partner)
    bucket = bucket_name(partner, node.party)
    outbound = node.folder(OUTBOUND)
    audit = AuditLog.for_home(node.home, node.party)
    public = node.public_keys(partner).minisign
    found = []
    keys = set(node.store.list_keys(bucket, f"{RECEIPTS}/"))
    for key in sorted(keys):
        named = parse_receipt_key(key)
        if not named or signature_key(key) not in keys:
            continue  # not the receipt layout, or its signature is not written yet
        eid = named.exchange_id
        folder = outbound / eid
        if not (folder / MANIFEST).exists() or (folder / "receipt.json").exists():
            continue
        where = f"s3://{bucket}/{key}"
        try:  # an invalid receipt is remembered by its content: a genuine one put there later is read
            body = node.store.get_bytes(bucket, key, RECEIPT_MAX)
            signature = node.store.get_bytes(bucket, signature_key(key), SIGNATURE_MAX)
            unreadable = None
        except NotFound:
            continue  # removed between listing and reading; looked at again next run
        except ObjectTooLarge as exc:
            body, signature, unreadable = b"", b"", exc
        seen = key + " " + hashlib.sha256(body + b"\n" + signature).hexdigest()
        if seen in _known_invalid(folder):
            continue
        try:
            if unreadable:
                raise unreadable
            comment = public.verify(body, signature, source=signature_key(where))
            doc = json.loads(body)
            own, own_sha = _own_record(folder)
            answered = {"dataset": named.dataset, "period": named.period, "exchange_id": eid}
            _check(doc, answered, own, own_sha, node, partner, where)
            if comment != _comment(doc):
                raise ProtocolError(f"{where}: signature names another receipt ({comment[:120]!r})",
                                    hint="a signature was moved between receipts; tell the partner")
        except (SignatureError, ProtocolError, ValueError, RecursionError) as exc:  # Recursion: nested too deep
            reason = defused(str(exc)[:300])  # may quote the planted key
            _remember_invalid(folder, seen, reason)
            audit.append("receipt", direction="received", exchange_id=eid, status="invalid", reason=reason,
                         **{"from": partner})
            found.append(ReceiptStatus(eid, "invalid", reason))
            continue
        write_json_atomic(folder / "receipt.json", doc)
        audit.append("receipt", direction="received", exchange_id=eid, status=doc["status"],
                     reason=defused(str(doc.get("reason", ""))[:400]), **{"from": partner})
        found.append(ReceiptStatus(eid, doc["status"], doc.get("reason", "")))
    return found
