"""What a sender trusts about its own exchanges: what it recorded or signed itself, nothing else.

A leaked bucket key lets anyone plant objects in this party's outbound buckets. So the
sender never reuses, signs, or derives a revision or a sequence from a manifest it did
not write. It trusts only

* its local record ``outbound/{exchange_id}/manifest.json``, written *before* the manifest
  goes into the bucket (so a retry after a crash finishes from the record, not from the
  bucket), with ``published.json`` beside it once the ``publish`` audit entry is written
  (so a retry records ``publish`` exactly once);
* a manifest in the bucket whose signature verifies with its own key, whose trusted
  comment is the manifest's own and which sits at the prefix it names.

Anything else found where its manifests go (unsigned, unverifiable, malformed, oversized,
copied from another prefix) is ignored with a warning, and an ``alarm`` audit entry the first time it is seen.
"""

from __future__ import annotations

import logging
from pathlib import Path

from exchange.atomic import write_json_atomic
from exchange.audit.alarms import raise_alarm
from exchange.audit.log import AuditLog, defused
from exchange.errors import NotFound, ProtocolError, SignatureError
from exchange.protocol.limits import MANIFEST_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import MANIFEST, OUTBOUND, SIGNATURE, signature_key
from exchange.protocol.node import Node

RECORD = MANIFEST  # outbound/{exchange_id}/manifest.json: this node's record of what it signed
PUBLISHED = "published.json"
ALARM_KIND = "manifest-untrusted"
UNTRUSTED = (ProtocolError, SignatureError, NotFound)  # what a planted object can make a read raise
log = logging.getLogger("gcmx")


def record_folder(node: Node, exchange: str) -> Path:
    """``outbound/{exchange_id}/``: this node's record of one exchange it sent."""
    return node.folder(OUTBOUND) / exchange


def write_record(node: Node, manifest: Manifest) -> None:
    """Record ``manifest`` locally; done before it is put in the bucket."""
    write_json_atomic(record_folder(node, manifest.exchange_id) / RECORD, manifest.to_dict())


def local_records(node: Node, bucket: str, dataset: str) -> dict[str, Manifest]:
    """This node's records of exchanges of ``dataset`` it sent into ``bucket``, by exchange id."""
    found = {}
    for path in sorted(node.folder(OUTBOUND).glob(f"*/{RECORD}")):
        manifest = Manifest.from_json(path.read_bytes(), str(path))
        if (manifest.bucket, manifest.dataset, manifest.sender) == (bucket, dataset, node.party) \
                and manifest.exchange_id == path.parent.name:
            found[manifest.exchange_id] = manifest
    return found


def alarm(node: Node, partner: str, where: str, reason: str, audited: set[str] | None = None) -> None:
    """Warn that an object in this node's bucket was not written by it, and record it in the
    audit log unless ``where`` is in ``audited`` (an object still there is recorded once)."""
    shown = defused(repr(where)[1:-1][:300])  # a planted key may hold newlines or control characters
    reason, where = reason.replace(where, shown), shown
    log.warning("gcmx: ALARM: ignored %s, not written by %s: %s", where, node.party, reason[:400])
    if audited is None or where not in audited:
        raise_alarm(node, ALARM_KIND, partner, reason, where=where)


def _alarmed(node: Node) -> set[str]:
    """The objects this node's audit log already holds an untrusted-manifest alarm for."""
    return {e.get("where") for e in AuditLog.for_home(node.home, node.party).entries()
            if e.get("event") == "alarm" and e.get("kind") == ALARM_KIND}


def _signed_by_self(node: Node, bucket: str, prefix: str, signed: bool) -> Manifest:
    """The manifest at ``prefix`` if this node signed it for that prefix; else a typed error."""
    where = f"s3://{bucket}/{prefix}/{MANIFEST}"
    if not signed:
        raise SignatureError(f"{where} has no signature",
                             hint="this node signs every manifest it writes; someone else put it there",
                             source=where)
    body = node.store.get_bytes(bucket, f"{prefix}/{MANIFEST}", MANIFEST_MAX)
    signature = node.store.get_bytes(bucket, f"{prefix}/{SIGNATURE}", SIGNATURE_MAX)
    comment = node.identity.signing_key.public_key.verify(body, signature, signature_key(where))
    manifest = Manifest.from_json(body, where)
    if comment != manifest.comment() or manifest.prefix != prefix or manifest.bucket != bucket \
            or manifest.sender != node.party:
        raise ProtocolError(f"{where}: a copy of the manifest {node.party} signed for "
                            f"s3://{manifest.bucket}/{manifest.prefix}",
                            hint="a signed manifest was copied to another prefix; the original stands",
                            bucket=bucket, key=f"{prefix}/{MANIFEST}", exchange_id=manifest.exchange_id)
    return manifest


def trusted_manifests(node: Node, bucket: str, dataset: str, partner: str) -> dict[str, Manifest]:
    """Every exchange of ``dataset`` this node sent into ``bucket``: its records, and bucket
    manifests it signed itself. Any other manifest there raises an alarm and is ignored."""
    own = local_records(node, bucket, dataset)
    keys = set(node.store.list_keys(bucket, f"{dataset}/"))
    audited = None
    for key in sorted(k for k in keys if k.endswith("/" + MANIFEST)):
        prefix = key.removesuffix("/" + MANIFEST)
        recorded = own.get(prefix.rsplit("/", 1)[-1])
        if recorded is not None and recorded.prefix == prefix:
            continue
        try:
            manifest = _signed_by_self(node, bucket, prefix, f"{prefix}/{SIGNATURE}" in keys)
        except UNTRUSTED as exc:
            audited = _alarmed(node) if audited is None else audited
            alarm(node, partner, f"s3://{bucket}/{key}", exc.message, audited)
            continue
        own[manifest.exchange_id] = manifest
    return own


def _stored(node: Node, bucket: str, key: str, limit: int) -> bytes | None:
    try:
        return node.store.get_bytes(bucket, key, limit)
    except UNTRUSTED:
        return None


def put_signed(node: Node, manifest: Manifest) -> None:
    """Put this node's ``manifest`` and its signature in the bucket, create-only; safe to re-run.

    An object already at either key must be exactly this node's: anything else was planted,
    is never signed or overwritten, and is an alarm and a ProtocolError."""
    bucket, body, partner = manifest.bucket, manifest.to_json(), manifest.recipient_parties[0]
    manifest_key, signature_key = f"{manifest.prefix}/{MANIFEST}", f"{manifest.prefix}/{SIGNATURE}"
    node.store.put_if_absent(bucket, manifest_key, body)
    if _stored(node, bucket, manifest_key, MANIFEST_MAX) != body:
        _taken(node, partner, bucket, manifest_key, "holds a manifest this party did not write")
    if not node.store.exists(bucket, signature_key):
        signing_key = node.identity.signing_key
        AuditLog.for_home(node.home, node.party).append(
            "key_use", purpose="sign manifest", exchange_id=manifest.exchange_id, key_id=signing_key.key_id)
        node.store.put_if_absent(bucket, signature_key, signing_key.sign(body, manifest.comment()))
    stored = _stored(node, bucket, signature_key, SIGNATURE_MAX)
    try:
        good = stored is not None and node.identity.signing_key.public_key.verify(body, stored) \
            == manifest.comment()
    except SignatureError:
        good = False
    if not good:
        _taken(node, partner, bucket, signature_key, "holds a signature that is not this party's over its manifest")


def _taken(node: Node, partner: str, bucket: str, key: str, what: str) -> None:
    alarm(node, partner, f"s3://{bucket}/{key}", what)
    raise ProtocolError(f"s3://{bucket}/{key} {what}",
                        hint="it was planted with a leaked bucket key: rotate that key, remove the object "
                             "(it is kept in the audit trail) and re-run publish to finish the exchange",
                        bucket=bucket, key=key)


def record_published(node: Node, manifest: Manifest) -> bool:
    """Write the ``publish`` audit entry of ``manifest`` unless it was; True if written now.

    ``published.json`` in the record says it was; after a crash between the entry and that
    file the log itself is searched, so the entry is never written twice."""
    marker = record_folder(node, manifest.exchange_id) / PUBLISHED
    if marker.exists():
        return False
    audit = AuditLog.for_home(node.home, node.party)
    entry = next((e for e in audit.entries()
                  if e.get("event") == "publish" and e.get("exchange_id") == manifest.exchange_id), None)
    written = entry is None
    if written:
        entry = audit.append(
            "publish", exchange_id=manifest.exchange_id, contract=manifest.contract.id,
            dataset=manifest.dataset, period=manifest.period, recipient=manifest.recipient_parties[0],
            revision=manifest.revision, sequence=manifest.sequence, rows=manifest.rows,
            ciphertext_sha256=manifest.ciphertext.sha256, bucket=manifest.bucket)
    write_json_atomic(marker, {"audit_seq": entry["seq"], "time": entry["time"]})
    return written
