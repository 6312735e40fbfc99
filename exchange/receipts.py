"""Signed receipts: the recipient's answer to every exchange, accepted or rejected.

A receipt travels in the recipient's own outbound bucket (``receipts/{exchange_id}.json``
and ``.minisig``); the sender collects and verifies it. An exchange counts as delivered
only with a valid, accepted receipt.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from exchange.audit import AuditLog
from exchange.errors import ProtocolError, SignatureError
from exchange.limits import RECEIPT_MAX, SIGNATURE_MAX
from exchange.manifest import canonical_json, trusted_comment
from exchange.node import Node, write_json_atomic
from exchange.seaweed import bucket_name

PREFIX = "receipts/"


def _comment(doc: dict) -> str:
    return trusted_comment("receipt", doc["exchange_id"], doc["dataset"], doc["period"], doc["sender"],
                           doc["receiver"])


def send_receipt(node: Node, partner: str, doc: dict) -> str:
    """Sign ``doc`` and write it (create-only) into this node's bucket towards ``partner``."""
    bucket = bucket_name(node.party, partner)
    key = f"{PREFIX}{doc['exchange_id']}.json"
    body = canonical_json(doc)
    signature = node.identity.signing_key.sign(body, _comment(doc))
    node.store.put_if_absent(bucket, key, body)
    node.store.put_if_absent(bucket, key + ".minisig", signature)
    AuditLog.for_home(node.home, node.party).append(
        "receipt", direction="sent", exchange_id=doc["exchange_id"], status=doc["status"], to=partner)
    return key


@dataclass(frozen=True)
class ReceiptStatus:
    """What the sender knows of one exchange after collecting receipts."""

    exchange_id: str
    status: str  # accepted | rejected | invalid
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def collect_receipts(node: Node, partner: str) -> list[ReceiptStatus]:
    """Fetch and verify new receipts from ``partner`` for this node's exchanges."""
    bucket = bucket_name(partner, node.party)
    outbound = node.folder("outbound")
    audit = AuditLog.for_home(node.home, node.party)
    public = node.public_keys(partner).minisign
    found = []
    for key in node.store.list_keys(bucket, PREFIX):
        if not key.endswith(".json"):
            continue
        eid = key.removeprefix(PREFIX).removesuffix(".json")
        folder = outbound / eid
        if not (folder / "manifest.json").exists() or (folder / "receipt.json").exists():
            continue
        body = node.store.get_bytes(bucket, key, RECEIPT_MAX)
        try:
            doc = json.loads(body)
            comment = public.verify(body, node.store.get_bytes(bucket, key + ".minisig", SIGNATURE_MAX))
            if comment != _comment(doc) or doc["exchange_id"] != eid or doc["sender"] != node.party \
                    or doc["receiver"] != partner:
                raise ProtocolError(f"s3://{bucket}/{key}: receipt is about another exchange or party",
                                    hint="ignore it; ask the partner to re-send the receipt")
        except (SignatureError, ProtocolError, ValueError, KeyError) as exc:
            audit.append("receipt", direction="received", exchange_id=eid, status="invalid",
                         reason=str(exc)[:300])
            found.append(ReceiptStatus(eid, "invalid", str(exc)[:300]))
            continue
        write_json_atomic(folder / "receipt.json", doc)
        audit.append("receipt", direction="received", exchange_id=eid, status=doc["status"],
                     reason=doc.get("reason", ""), **{"from": partner})
        found.append(ReceiptStatus(eid, doc["status"], doc.get("reason", "")))
    return found
