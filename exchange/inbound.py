"""Receiving side of the protocol: discover → verify → decrypt → re-validate → land → receipt.

Nothing is half-landed: the plaintext is written to a staging folder and moved into
``landing/{dataset}/{period}/{exchange_id}/`` by one rename, only after every check.
A rejected exchange is quarantined with its reason, recorded in the audit log and
answered with a signed ``rejected`` receipt. Transient failures (S3 down) leave no
trace and may simply be retried.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from exchange import age
from exchange.agreement import require_in_force
from exchange.audit import AuditLog
from exchange.contracts import load_contract
from exchange.declared import check_declared
from exchange.errors import ProtocolError, TerminalError
from exchange.freshness_check import watch_partner
from exchange.limits import MANIFEST_MAX, SIGNATURE_MAX
from exchange.manifest import DATA, Manifest, receipt, utc_now
from exchange.node import Node, write_json_atomic
from exchange.outbound import quarantine
from exchange.quality import validate
from exchange.receipts import send_receipt
from exchange.seaweed import bucket_name
from exchange.store import MANIFEST, SIGNATURE, ExchangeRef
from exchange.streams import HashingReader, HashingWriter


class ExchangeRejected(TerminalError):
    """An inbound exchange failed a check; it was quarantined and a rejected receipt was sent."""


@dataclass(frozen=True)
class Received:
    """The outcome for one inbound exchange."""

    exchange_id: str
    dataset: str
    period: str
    status: str  # landed | rejected | skipped
    reason: str = ""
    rows: int = 0
    path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def discover(node: Node, partner: str) -> list[str]:
    """Prefixes of complete exchanges from ``partner`` still to decide on or to answer."""
    bucket = bucket_name(partner, node.party)
    folder = node.folder("inbound")

    def open_case(exchange: str) -> bool:
        decision = folder / f"{exchange}.json"
        return not decision.exists() or bool(json.loads(decision.read_text()).get("receipt_pending"))

    return [ref.prefix for ref in node.store.list_exchanges(bucket) if open_case(ref.exchange_id)]


def _landed_manifests(node: Node, dataset: str, period: str) -> list[dict]:
    folder = node.folder("landing") / dataset / period
    return [json.loads(p.read_text()) for p in folder.glob("*/manifest.json")]


def _check_manifest(node: Node, ref: ExchangeRef, sender: str, body: bytes, signature: bytes) -> Manifest:
    where = f"s3://{ref.bucket}/{ref.prefix}/{MANIFEST}"
    comment = node.public_keys(sender).minisign.verify(body, signature)
    manifest = Manifest.from_bytes(body, where)
    if comment != manifest.comment():
        raise ProtocolError(f"{where}: signature names another exchange ({comment!r})",
                            hint="a signature was moved between exchanges; ask the sender to republish")
    expected = {"exchange_id": ref.exchange_id, "dataset": ref.dataset, "period": ref.period,
                "bucket": ref.bucket, "sender": sender}
    for name, value in expected.items():
        actual = getattr(manifest, name)
        if actual != value:
            raise ProtocolError(f"{where}: manifest {name} is {actual!r}, expected {value!r}",
                                hint="the manifest was copied from another exchange or bucket")
    if node.party not in manifest.recipient_parties:
        raise ProtocolError(f"{where}: exchange is addressed to {manifest.recipient_parties}, "
                            f"not {node.party}",
                            hint="the sender encrypted it for another party; ask it to republish")
    return manifest


def _check_contract_and_order(node: Node, manifest: Manifest, where: str):
    contract = load_contract(manifest.contract["id"], node.settings.contracts)
    if (contract.version, contract.hash) != (manifest.contract["version"], manifest.contract["hash"]):
        raise ProtocolError(f"{where}: sent under contract {manifest.contract['id']} "
                            f"v{manifest.contract['version']} which this node does not hold in force "
                            f"(it holds v{contract.version})", hint="agree and sign the same contract version")
    parties = [contract.sender, *contract.recipients]
    require_in_force(contract, node.agreements_dir, {p: node.public_keys(p).minisign for p in parties})
    for landed in _landed_manifests(node, manifest.dataset, manifest.period):
        if (landed["revision"], landed["sequence"]) >= (manifest.revision, manifest.sequence):
            raise ProtocolError(f"{where}: revision {manifest.revision} / sequence {manifest.sequence} is not "
                                f"newer than landed {landed['exchange_id']} (revision {landed['revision']}, "
                                f"sequence {landed['sequence']})", hint="a replayed or rolled-back exchange")
    return contract


def receive(node: Node, partner: str, prefix: str, progress: Callable[[int], None] | None = None) -> Received:
    """Verify, decrypt, re-validate and land one exchange; answer with a signed receipt.

    Raises ExchangeRejected (terminal) after quarantining a bad exchange; transient store
    errors propagate untouched so the caller may retry.
    """
    bucket = bucket_name(partner, node.party)
    dataset, period, eid = prefix.split("/")
    ref = ExchangeRef(bucket, dataset, period, eid)
    decision = node.folder("inbound") / f"{eid}.json"
    if decision.exists():
        decided = json.loads(decision.read_text())
        if decided.get("receipt_pending"):
            _answer(node, partner, decision, decided)
        return Received(eid, dataset, period, "skipped", decided["status"])
    audit = AuditLog.for_home(node.home, node.party)
    staging = node.folder("landing") / ".staging" / eid
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    body, summary = b"", {}
    try:
        body = node.store.get_bytes(bucket, f"{prefix}/{MANIFEST}", MANIFEST_MAX)
        signature = node.store.get_bytes(bucket, f"{prefix}/{SIGNATURE}", SIGNATURE_MAX)
        audit.append("fetch", exchange_id=eid, bucket=bucket, prefix=prefix)
        manifest = _check_manifest(node, ref, partner, body, signature)
        contract = _check_contract_and_order(node, manifest, f"s3://{bucket}/{prefix}")
        audit.append("verify", exchange_id=eid, sender=partner, key_id=manifest.sender_key_id,
                     contract=contract.id, version=contract.version)
        data = staging / "data.parquet"
        with node.store.open_ranged(bucket, f"{prefix}/{DATA}") as body_stream, data.open("wb") as out:
            cipher, plain = HashingReader(body_stream, progress), HashingWriter(out)
            age.decrypt(cipher, plain, node.identity.age_identities)
        audit.append("key_use", purpose="decrypt", exchange_id=eid)
        _check_hash(manifest, "ciphertext", cipher.hash.hexdigest(), bucket)
        _check_hash(manifest, "plaintext", plain.hash.hexdigest(), bucket)
        check_declared(data, contract, manifest.period)
        report = validate(data, contract, form="exchanged")  # every contract column must be present
        summary = report.summary()
        write_json_atomic(staging / "validation.json", report.to_dict())
        if not report.success:
            raise ExchangeRejected(f"exchange {eid} ({dataset} {period}) from {partner} fails contract "
                                   f"{contract.id}: {report.summary().get('failed')}",
                                   hint="quarantined; the sender was told by a rejected receipt")
        (staging / "manifest.json").write_bytes(body)
        final = node.folder("landing") / dataset / period / eid
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
        audit.append("land", exchange_id=eid, dataset=dataset, period=period, rows=manifest.rows,
                     path=str(final))
        _answer(node, partner, decision, {
            "status": "landed", "time": utc_now(), "path": str(final),
            "receipt_pending": receipt(eid, dataset, period, partner, node.party, True, "", summary,
                                       hashlib.sha256(body).hexdigest())})
        return Received(eid, dataset, period, "landed", rows=manifest.rows, path=str(final / "data.parquet"))
    except TerminalError as exc:
        return _reject(node, partner, ref, body, summary, staging, exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _answer(node: Node, partner: str, decision: Path, decided: dict) -> None:
    """Record the decision, then send its receipt; a receipt that could not be sent
    (store down) stays pending in the decision and goes out on the next pull."""
    write_json_atomic(decision, decided)
    send_receipt(node, partner, decided["receipt_pending"])
    write_json_atomic(decision, {**decided, "receipt_pending": None})


def _check_hash(manifest: Manifest, what: str, actual: str, bucket: str) -> None:
    expected = getattr(manifest, what)["sha256"]
    if actual != expected:
        raise ProtocolError(f"s3://{bucket}/{manifest.prefix}/{DATA}: {what} SHA-256 {actual[:16]}… does not "
                            f"match the manifest's {expected[:16]}…",
                            hint="the object was altered or truncated in transit or in the bucket")


def _reject(node: Node, partner: str, ref: ExchangeRef, body: bytes, summary: dict, staging: Path,
            exc: TerminalError):
    reason = exc.message
    files = {p.name: p for p in staging.glob("*") if p.is_file()}
    folder = quarantine(node, ref.exchange_id, reason, files)
    if body:
        (folder / "manifest.json").write_bytes(body)
    AuditLog.for_home(node.home, node.party).append(
        "reject", exchange_id=ref.exchange_id, dataset=ref.dataset, period=ref.period, reason=reason,
        folder=str(folder))
    _answer(node, partner, node.folder("inbound") / f"{ref.exchange_id}.json", {
        "status": "rejected", "reason": reason, "time": utc_now(), "quarantine": str(folder),
        "receipt_pending": receipt(ref.exchange_id, ref.dataset, ref.period, partner, node.party, False,
                                   reason, summary, hashlib.sha256(body).hexdigest() if body else "")})
    raise ExchangeRejected(f"exchange {ref.exchange_id} ({ref.dataset} {ref.period}) from {partner} "
                           f"rejected: {reason}", hint=f"quarantined in {folder}") from exc


def _publish_order(node: Node, partner: str, prefixes: list[str]) -> list[str]:
    """Prefixes in the sender's publishing order (manifest sequence), so that two revisions
    published between pulls land oldest first instead of the older one being refused as a
    rollback. The order is a hint only: every manifest is verified in ``receive``."""
    bucket = bucket_name(partner, node.party)

    def sequence(prefix: str) -> int:
        try:
            return int(json.loads(node.store.get_bytes(bucket, f"{prefix}/{MANIFEST}", MANIFEST_MAX))["sequence"])
        except (ValueError, KeyError, TypeError):
            return 0

    return sorted(prefixes, key=sequence)


def pull(node: Node, partner: str, progress: Callable[[int], None] | None = None) -> list[Received]:
    """Receive every new exchange from ``partner``; one rejection does not stop the others.

    ``progress`` is told the size of each piece of ciphertext downloaded."""
    watch_partner(node, partner)
    results = []
    for prefix in _publish_order(node, partner, discover(node, partner)):
        try:
            results.append(receive(node, partner, prefix, progress))
        except ExchangeRejected as exc:
            dataset, period, eid = prefix.split("/")
            results.append(Received(eid, dataset, period, "rejected", exc.message))
    return results
