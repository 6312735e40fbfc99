"""Signed deletion statements: "this party deleted its copies of this exchange, at this time".

When an exchange's retention ends (:mod:`exchange.protocol.retention`) each party deletes its
copies and signs a :class:`DeletionStatement`: the exchange, the hashes of what was deleted
(signed manifest, ciphertext, plaintext), the end of retention and the time of deletion. It is
kept in the party's home (``retention/deleted/``), recorded in its audit log, and put
create-only in its outbound bucket towards the partner (``deletions/{dataset}/{period}/{id}.json``
and ``.minisig``). The sender collects the recipient's statement like a receipt
(:func:`collect_deletions`): size-bounded, signature verified before parsing, parsed strictly,
checked against the sender's own record; only then does the deletion count as confirmed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.atomic import write_bytes_atomic, write_json_atomic
from exchange.audit.log import AuditLog, defused
from exchange.canonical import canonical_json
from exchange.errors import NotFound, ObjectTooLarge, ProtocolError, SignatureError
from exchange.protocol.limits import SIGNATURE_MAX, STATEMENT_MAX
from exchange.protocol.manifest import Manifest, trusted_comment
from exchange.protocol.naming import (
    DELETIONS,
    MANIFEST,
    OUTBOUND,
    RETENTION,
    bucket_name,
    deletion_key,
    parse_deletion_key,
    signature_key,
)
from exchange.protocol.node import Node
from exchange.protocol.strict import Fields, parse_json

FORMAT = "gcmx-deletion/1"
_FORMAT = re.compile(re.escape(FORMAT))
_ROLE = re.compile("sender|recipient")
EVENT_DONE = "deletion"              # this party deleted an exchange's copies (audit event)
EVENT_CONFIRMED = "deletion_confirmed"  # the partner's statement verified (audit event)
EVENT_INVALID = "deletion_invalid"   # a statement in the partner's bucket that does not verify


@dataclass(frozen=True)
class DeletionStatement:
    """One party's signed word that it deleted its copies of one exchange."""

    exchange_id: str
    dataset: str
    period: str
    sender: str
    recipient: str
    deleted_by: str
    role: str  # sender | recipient
    manifest_sha256: str
    ciphertext_sha256: str
    plaintext_sha256: str
    retention_ended: str
    deleted: str
    removed: tuple[str, ...]  # what was removed: bucket keys (sender) or local copies (recipient)
    format: str = FORMAT

    @classmethod
    def about(cls, manifest: Manifest, body_sha256: str, party: str, retention_ended: str, deleted: str,
              removed: list[str]) -> DeletionStatement:
        """The statement ``party`` makes about the exchange of ``manifest`` (signed bytes hash ``body_sha256``)."""
        return cls(manifest.exchange_id, manifest.dataset, manifest.period, manifest.sender,
                   manifest.recipient_parties[0], party, "sender" if party == manifest.sender else "recipient",
                   body_sha256, manifest.ciphertext.sha256, manifest.plaintext.sha256, retention_ended, deleted,
                   tuple(removed))

    def comment(self) -> str:
        """The trusted comment of its signature: names the exchange and who deleted."""
        return trusted_comment("deletion", self.exchange_id, self.dataset, self.period, self.sender,
                               self.recipient) + f" by {self.deleted_by}"

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "exchange_id": self.exchange_id, "dataset": self.dataset,
                "period": self.period, "sender": self.sender, "recipient": self.recipient,
                "deleted_by": self.deleted_by, "role": self.role, "manifest_sha256": self.manifest_sha256,
                "ciphertext_sha256": self.ciphertext_sha256, "plaintext_sha256": self.plaintext_sha256,
                "retention_ended": self.retention_ended, "deleted": self.deleted, "removed": list(self.removed)}

    def to_json(self) -> bytes:
        """The canonical bytes that are signed."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "deletion statement") -> DeletionStatement:
        """Parse strictly (ProtocolError naming ``where`` and the field); bound the size and verify before."""
        f = Fields(parse_json(data, "deletion statement", where), "deletion statement", where)
        f.text("format", _FORMAT)
        made = cls(exchange_id=f.text("exchange_id"), dataset=f.text("dataset"), period=f.text("period"),
                   sender=f.text("sender"), recipient=f.text("recipient"), deleted_by=f.text("deleted_by"),
                   role=f.text("role", _ROLE), manifest_sha256=f.text("manifest_sha256"),
                   ciphertext_sha256=f.text("ciphertext_sha256"), plaintext_sha256=f.text("plaintext_sha256"),
                   retention_ended=f.text("retention_ended"), deleted=f.text("deleted"),
                   removed=f.texts("removed"))
        f.done()
        return made


def own_statement_path(node: Node, exchange_id: str) -> Path:
    """``retention/deleted/{exchange_id}.json``: this party's own statement (``.minisig`` beside)."""
    return node.folder(RETENTION) / "deleted" / f"{exchange_id}.json"


def confirmed_path(node: Node, exchange_id: str) -> Path:
    """``retention/confirmed/{exchange_id}.json``: the partner's verified statement about our exchange."""
    return node.folder(RETENTION) / "confirmed" / f"{exchange_id}.json"


def record_statement(node: Node, doc: DeletionStatement) -> None:
    """Sign ``doc``, keep it in the home and write its ``deletion`` audit entry; once per exchange
    (a retry after a crash keeps the first statement)."""
    path = own_statement_path(node, doc.exchange_id)
    if path.exists():
        return
    body = doc.to_json()
    write_bytes_atomic(_signature_path(path), node.identity.signing_key.sign(body, doc.comment()))
    write_bytes_atomic(path, body)
    AuditLog.for_home(node.home, node.party).append(
        EVENT_DONE, exchange_id=doc.exchange_id, role=doc.role, dataset=doc.dataset, period=doc.period,
        manifest_sha256=doc.manifest_sha256, ciphertext_sha256=doc.ciphertext_sha256,
        retention_ended=doc.retention_ended, deleted=doc.deleted, removed=len(doc.removed))


def _signature_path(path: Path) -> Path:
    """The minisign signature beside a kept statement."""
    return path.with_name(path.name + ".minisig")


def publish_statement(node: Node, doc: DeletionStatement) -> bool:
    """Put this party's kept statement in its outbound bucket towards the partner, create-only;
    True when it is there (now or before). A slot holding other bytes stays an unpublished
    statement, retried on the next run (and visible in the report as not published)."""
    partner = doc.recipient if doc.role == "sender" else doc.sender
    bucket, key = bucket_name(node.party, partner), deletion_key(doc.dataset, doc.period, doc.exchange_id)
    path = own_statement_path(node, doc.exchange_id)
    body, signature = path.read_bytes(), _signature_path(path).read_bytes()
    for target, data in ((key, body), (signature_key(key), signature)):
        node.store.put_if_absent(bucket, target, data)
        try:
            if node.store.get_bytes(bucket, target, STATEMENT_MAX) != data:
                return False
        except (NotFound, ObjectTooLarge):
            return False
    return True


def _own_manifest(node: Node, exchange_id: str) -> tuple[Manifest, str] | None:
    path = node.folder(OUTBOUND) / exchange_id / MANIFEST
    if not path.is_file():
        return None
    manifest = Manifest.from_json(path.read_bytes(), str(path))
    return manifest, hashlib.sha256(manifest.to_json()).hexdigest()


def _check(doc: DeletionStatement, named, own: Manifest, own_sha256: str, node: Node, partner: str,
           where: str) -> None:
    expected = {"exchange_id": named.exchange_id, "dataset": named.dataset, "period": named.period,
                "sender": node.party, "recipient": partner, "deleted_by": partner, "role": "recipient",
                "manifest_sha256": own_sha256, "ciphertext_sha256": own.ciphertext.sha256,
                "plaintext_sha256": own.plaintext.sha256}
    for name, value in expected.items():
        if getattr(doc, name) != value:
            raise ProtocolError(f"{where}: deletion statement {name} is {str(getattr(doc, name))[:80]!r}, "
                                f"expected {value!r}", hint="the statement is not about the exchange this node "
                                "sent; tell the partner", field=name)
    for name in ("dataset", "period"):
        if getattr(own, name) != getattr(named, name):
            raise ProtocolError(f"{where}: statement is for {name} {getattr(named, name)!r}, this node sent "
                                f"{getattr(own, name)!r}", hint="a copied statement; tell the partner", field=name)


def _known_invalid(node: Node, exchange_id: str) -> dict:
    path = node.folder(RETENTION) / "invalid" / f"{exchange_id}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _invalid(node: Node, exchange_id: str, seen: str, reason: str, partner: str) -> None:
    path = node.folder(RETENTION) / "invalid" / f"{exchange_id}.json"
    known = _known_invalid(node, exchange_id)
    write_json_atomic(path, {**known, seen: reason})
    AuditLog.for_home(node.home, node.party).append(EVENT_INVALID, exchange_id=exchange_id, reason=reason,
                                                     **{"from": partner})


def collect_deletions(node: Node, partner: str) -> list[dict]:
    """Fetch, verify and record ``partner``'s deletion statements about exchanges this node sent.

    Each is read bounded (:data:`STATEMENT_MAX`), its signature verified with the partner's key
    before it is parsed, parsed strictly and checked against this node's own record; a valid one
    is kept in ``retention/confirmed/`` with a ``deletion_confirmed`` audit entry (once), an
    invalid one is audited once (``deletion_invalid``) and remembered by its content."""
    bucket = bucket_name(partner, node.party)
    public = node.public_keys(partner).minisign
    keys = set(node.store.list_keys(bucket, f"{DELETIONS}/"))
    found = []
    for key in sorted(keys):
        named = parse_deletion_key(key, bucket)
        if named is None or signature_key(key) not in keys or confirmed_path(node, named.exchange_id).exists():
            continue
        own = _own_manifest(node, named.exchange_id)
        if own is None:
            continue  # not an exchange this node sent
        where = f"s3://{bucket}/{key}"
        try:
            body = node.store.get_bytes(bucket, key, STATEMENT_MAX)
            signature = node.store.get_bytes(bucket, signature_key(key), SIGNATURE_MAX)
        except NotFound:
            continue
        except ObjectTooLarge as exc:
            body, signature, unreadable = b"", b"", exc
        else:
            unreadable = None
        seen = hashlib.sha256(body + b"\n" + signature).hexdigest()
        if seen in _known_invalid(node, named.exchange_id):
            continue  # audited once; a genuine statement put there later is read
        try:
            if unreadable:
                raise unreadable
            comment = public.verify(body, signature, source=signature_key(where))
            doc = DeletionStatement.from_json(body, where)
            _check(doc, named, *own, node, partner, where)
            if comment != doc.comment():
                raise ProtocolError(f"{where}: signature names another statement ({comment[:120]!r})",
                                    hint="a signature was moved between statements; tell the partner")
        except (SignatureError, ProtocolError) as exc:
            reason = defused(str(exc)[:300])
            _invalid(node, named.exchange_id, seen, reason, partner)
            found.append({"exchange_id": named.exchange_id, "status": "invalid", "reason": reason})
            continue
        write_json_atomic(confirmed_path(node, doc.exchange_id), doc.to_dict())
        AuditLog.for_home(node.home, node.party).append(
            EVENT_CONFIRMED, exchange_id=doc.exchange_id, deleted=doc.deleted, **{"from": partner})
        found.append({"exchange_id": doc.exchange_id, "status": "confirmed", "deleted": doc.deleted})
    return found
