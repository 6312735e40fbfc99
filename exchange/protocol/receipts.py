"""Signed receipts: the recipient's answer to every exchange, accepted or rejected.

A receipt travels in the recipient's own outbound bucket under
``receipts/{dataset}/{period}/{exchange_id}.json`` (and ``.minisig``), so a receipt about a
copy of an exchange under another prefix can never stand for the original. The sender
collects it and accepts it only when its signature verifies with the recipient's key and its
exchange id, dataset and period equal both its key and the sender's own outbound record, and
its ``manifest_sha256`` is the hash of the manifest the sender signed. Anything else is an
``invalid`` receipt, audited once and remembered by its content (``outbound/{id}/invalid-receipts.json``),
so a genuine receipt written at the same key after a planted one is removed is still read.
An exchange counts as delivered only with a valid, accepted receipt. The receipt itself is a
:class:`Receipt` (canonical JSON, :mod:`exchange.canonical`; read strictly).

The recipient writes its receipt create-only. When the key already holds other bytes (planted
with a leaked bucket key), the receipt was *not* sent: that is an ``alarm``
(``receipt-slot-taken``), never a silent success.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from exchange.atomic import write_bytes_atomic, write_json_atomic
from exchange.audit.alarms import raise_alarm
from exchange.audit.log import AuditLog, defused
from exchange.audit.witness import witness_partner
from exchange.canonical import canonical_json
from exchange.clock import utc_now
from exchange.errors import NotFound, ObjectTooLarge, ProtocolError, SignatureError
from exchange.protocol.freshness import put_ours, sync_index
from exchange.protocol.key_pickup import pick_up_key_statements
from exchange.protocol.limits import RECEIPT_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import Manifest, trusted_comment
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
from exchange.protocol.strict import Fields, parse_json
from exchange.protocol.summaries import ValidationSummary

FORMAT = "gcmx-receipt/1"
_STATUS = re.compile("accepted|rejected")
_FORMAT = re.compile(re.escape(FORMAT))


@dataclass(frozen=True)
class Receipt:
    """The recipient's signed answer about one exchange: accepted or rejected, and why.

    ``validation`` is the recipient's own check of the data; None (``{}`` on the wire) when
    the exchange was refused before its data was validated."""

    exchange_id: str
    dataset: str
    period: str
    sender: str
    receiver: str
    status: str  # accepted | rejected
    reason: str
    validation: ValidationSummary | None
    manifest_sha256: str
    received: str
    terms_sha256: str = ""  # the usage terms acknowledged (accepted receipts); "" when not
    format: str = FORMAT

    @classmethod
    def answer(cls, exchange: str, dataset: str, period: str, sender: str, receiver: str, accepted: bool,
               reason: str, validation: ValidationSummary | None, manifest_sha256: str,
               terms_sha256: str = "") -> Receipt:
        """A receipt for one exchange, received now; ``terms_sha256`` acknowledges the usage terms."""
        return cls(exchange, dataset, period, sender, receiver, "accepted" if accepted else "rejected",
                   reason, validation, manifest_sha256, utc_now(), terms_sha256)

    def comment(self) -> str:
        """The trusted comment of this receipt's signature."""
        return trusted_comment("receipt", self.exchange_id, self.dataset, self.period, self.sender,
                               self.receiver)

    def to_dict(self) -> dict[str, Any]:
        """The receipt as a JSON value (for a local copy; the wire form is :meth:`to_json`)."""
        return {"format": self.format, "exchange_id": self.exchange_id, "dataset": self.dataset,
                "period": self.period, "sender": self.sender, "receiver": self.receiver, "status": self.status,
                "reason": self.reason, "validation": self.validation.to_dict() if self.validation else {},
                "manifest_sha256": self.manifest_sha256, "received": self.received,
                **({"terms_sha256": self.terms_sha256} if self.terms_sha256 else {})}

    def to_json(self) -> bytes:
        """The canonical bytes that are signed."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "receipt") -> Receipt:
        """Parse a receipt strictly (ProtocolError naming ``where`` and the field); bound the size before."""
        return cls.read(Fields(parse_json(data, "receipt", where), "receipt", where))

    @classmethod
    def read(cls, f: Fields) -> Receipt:
        """A receipt from its fields (a decision holds one while it is pending)."""
        f.text("format", _FORMAT)
        made = cls(exchange_id=f.text("exchange_id"), dataset=f.text("dataset"), period=f.text("period"),
                   sender=f.text("sender"), receiver=f.text("receiver"), status=f.text("status", _STATUS),
                   reason=f.text("reason"), validation=f.nested("validation", ValidationSummary.read_optional),
                   manifest_sha256=f.text("manifest_sha256"), received=f.text("received"),
                   terms_sha256=f.text("terms_sha256", optional=True) or "")
        f.done()
        return made


@dataclass(frozen=True)
class ReceiptSent:
    """What became of one receipt this node wrote: ``sent`` or ``slot-taken`` (an alarm)."""

    key: str
    status: str


def send_receipt(node: Node, partner: str, doc: Receipt, alarm: bool = True) -> ReceiptSent:
    """Sign ``doc`` and write it (create-only) into this node's bucket towards ``partner``.

    A key already holding other bytes is an alarm (``receipt-slot-taken``, unless ``alarm`` is
    False: already raised for this receipt) and the receipt counts as not sent, to be sent
    again once the slot is cleared; the same bytes (a retry of ours) count as sent.
    """
    bucket = bucket_name(node.party, partner)
    key = receipt_key(doc.dataset, doc.period, doc.exchange_id)
    body = doc.to_json()
    signature = node.identity.signing_key.sign(body, doc.comment())
    if not (put_ours(node, bucket, key, body, RECEIPT_MAX)
            and put_ours(node, bucket, signature_key(key), signature, SIGNATURE_MAX)):
        if alarm:
            raise_alarm(node, "receipt-slot-taken", partner,
                        f"s3://{bucket}/{key} already holds a receipt this node did not write; "
                        f"{partner} cannot learn our decision ({doc.status}) until it is removed "
                        f"(the receipt goes out on the next pull after that)",
                        exchange_id=doc.exchange_id, dataset=doc.dataset, period=doc.period,
                        status=doc.status)
        return ReceiptSent(key, "slot-taken")
    AuditLog.for_home(node.home, node.party).append(
        "receipt", direction="sent", exchange_id=doc.exchange_id, status=doc.status, to=partner)
    return ReceiptSent(key, "sent")


@dataclass(frozen=True)
class ReceiptStatus:
    """What the sender knows of one exchange after collecting receipts."""

    exchange_id: str
    status: str  # accepted | rejected | invalid
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def _own_record(folder: Path) -> Manifest:
    """Our outbound record of the manifest of an exchange (what we signed)."""
    path = folder / MANIFEST
    return Manifest.from_json(path.read_bytes(), str(path))


def _check(doc: Receipt, key_parts: dict, own: Manifest, node: Node, partner: str, where: str,
           manifest_sha256: str | None = None) -> None:
    """Raise unless ``doc`` answers this node's exchange at the key it sits under (and the
    manifest this node signed, unless another ``manifest_sha256`` is expected)."""
    expected = {**key_parts, "sender": node.party, "receiver": partner,
                "manifest_sha256": manifest_sha256 or own.sha256}
    for name, value in expected.items():
        if getattr(doc, name) != value:
            raise ProtocolError(f"{where}: receipt {name} is {getattr(doc, name)[:80]!r}, expected {value!r}",
                                hint="the receipt is about another exchange, prefix or manifest than the "
                                     "one this node signed; tell the partner", field=name)
    if doc.status == "accepted" and own.terms_sha256 and doc.terms_sha256 != own.terms_sha256:
        raise ProtocolError(f"{where}: receipt acknowledges usage terms {doc.terms_sha256[:16]!r}, this node "
                            f"sent under {own.terms_sha256[:16]}", hint="the partner holds other retention or "
                            "purpose terms; agree the same contract version", field="terms_sha256")
    for name in ("dataset", "period"):
        if getattr(own, name) != key_parts[name]:
            raise ProtocolError(f"{where}: receipt is for {name} {key_parts[name]!r}, this node sent "
                                f"{getattr(own, name)!r}", hint="a copied exchange; the genuine one is unaffected",
                                field=name)


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
    pick_up_key_statements(node, partner)  # receipts signed by a partner's rotated key verify
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
            doc = Receipt.from_json(body, where)
            answered = {"dataset": named.dataset, "period": named.period, "exchange_id": eid}
            own = _own_record(folder)
            replaced = doc.status == "rejected" and doc.manifest_sha256 != own.sha256
            _check(doc, answered, own, node, partner, where, doc.manifest_sha256 if replaced else None)
            if comment != doc.comment():
                raise ProtocolError(f"{where}: signature names another receipt ({comment[:120]!r})",
                                    hint="a signature was moved between receipts; tell the partner",
                                    bucket=bucket, key=key, exchange_id=eid)
        except (SignatureError, ProtocolError) as exc:
            reason = defused(str(exc)[:300])  # may quote the planted key
            _remember_invalid(folder, seen, reason)
            audit.append("receipt", direction="received", exchange_id=eid, status="invalid", reason=reason,
                         **{"from": partner})
            found.append(ReceiptStatus(eid, "invalid", reason))
            continue
        if replaced:  # a bucket key replaced our manifest: the partner never saw what we signed
            raise_alarm(node, "manifest-replaced", partner,
                        f"{partner} rejected exchange {eid} over a manifest this node did not sign (replaced "
                        "in the bucket); the next publish of the same input sends it as a new revision",
                        exchange_id=eid, where=where)
        write_bytes_atomic(folder / "receipt.json.minisig", signature)  # before receipt.json: it marks done
        write_json_atomic(folder / "receipt.json", doc.to_dict())
        audit.append("receipt", direction="received", exchange_id=eid, status=doc.status,
                     reason=defused(doc.reason[:400]), **{"from": partner})
        found.append(ReceiptStatus(eid, doc.status, doc.reason))
    return found
