"""Receiving side of the protocol: discover → verify → download → decrypt → check → land → receipt.

Everything is keyed by the full prefix of the exchange and its sender: a decision lives at
``inbound/{sender}/{dataset}/{period}/{exchange_id}.json``, landed data at
``landing/{sender}/{dataset}/{period}/{exchange_id}/``, so a copy planted under another
prefix can never stand for the genuine exchange. Nothing is half-landed: the plaintext is
written to a staging folder and moved into place by one rename, only after every check;
a run that dies after that rename finishes on the next pull with ``accepted``.

Nothing read from a bucket is trusted before its signature is verified, and everything
read before that is size-bounded (:mod:`exchange.protocol.limits`). The ciphertext is downloaded
to a file and its hash checked before decryption; the Parquet footer and decoded size are
checked against the signed manifest before validation reads the data.

A rejected exchange is quarantined with its reason, recorded in the audit log and
answered with a signed ``rejected`` receipt. Transient failures (S3 down) leave no
trace and may simply be retried. Keys that fit no wire layout are ignored with one
audit note and one warning each.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from exchange.atomic import write_json_atomic
from exchange.audit.log import AuditLog, defused
from exchange.clock import utc_now
from exchange.contract.validation_worker import start as start_validation
from exchange.contract.validation_worker import validate
from exchange.crypto import age
from exchange.errors import GcmxError, ProtocolError, QuarantineError, TerminalError
from exchange.protocol.decision import Decision
from exchange.protocol.declared import check_declared
from exchange.protocol.freshness_check import watch_partner
from exchange.protocol.inbound_checks import (
    check_contract,
    check_manifest,
    check_order,
    decision_path,
    landed_before,
    landing_folder,
)
from exchange.protocol.key_checks import check_arrival
from exchange.protocol.key_pickup import pick_up_key_statements
from exchange.protocol.key_watch import watch_own_statements
from exchange.protocol.limits import MANIFEST_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import (
    DATA,
    INBOUND,
    LANDING,
    MANIFEST,
    QUARANTINE,
    SIGNATURE,
    ExchangeRef,
    bucket_name,
    parse_exchange_prefix,
    rejected_name,
    scan_exchanges,
)
from exchange.protocol.node import Node
from exchange.protocol.observed import OBSERVED, record_arrival
from exchange.protocol.outbound import quarantine
from exchange.protocol.parquet_guard import check_parquet
from exchange.protocol.receipts import Receipt, send_receipt
from exchange.protocol.summaries import ValidationSummary
from exchange.storage.streams import HashingWriter, copy_at_most

log = logging.getLogger("gcmx.inbound")
BLOCK = 1 << 20


class ExchangeRejected(QuarantineError):
    """An inbound exchange failed a check; it was quarantined (``folder``) and a rejected receipt was sent."""

    FIELDS = ("sender", "exchange_id", "dataset", "period")


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
    found = scan_exchanges(node.store, bucket)
    _note_ignored(node, partner, bucket, found.ignored)

    def open_case(ref: ExchangeRef) -> bool:
        decision = decision_path(node, partner, ref)
        return not decision.exists() or Decision.read(decision).receipt_pending is not None

    return [ref.prefix for ref in found.refs if open_case(ref)]


def _printable(key: str) -> str:
    """A harmless preview of a planted key for logs and the audit (never a file name)."""
    return re.sub(r"[^a-z0-9/._]", "?", key[:80]) + ("…" if len(key) > 80 else "")


def _note_ignored(node: Node, partner: str, bucket: str, keys: list[str]) -> None:
    """One audit note and one warning per odd key, the first time it is seen."""
    if not keys:
        return
    noted_file = node.folder(INBOUND) / partner / ".ignored-keys"
    noted_file.parent.mkdir(parents=True, exist_ok=True)  # before anything from the partner was decided
    noted = set(noted_file.read_text().split()) if noted_file.exists() else set()
    audit = AuditLog.for_home(node.home, node.party)
    for key in keys:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        if digest in noted:
            continue
        audit.append("ignore", bucket=bucket, object=_printable(key), object_sha256=digest,
                     reason="object key does not fit the wire layout")
        log.warning("ignored s3://%s/%s: the key does not fit {dataset}/{period}/{exchange_id}/...; "
                    "it was not written by a gcmx sender (tell %s; remove it)", bucket, _printable(key), partner)
        noted.add(digest)
        with noted_file.open("a") as out:
            out.write(digest + "\n")


def receive(node: Node, partner: str, prefix: str, progress: Callable[[int], None] | None = None) -> Received:
    """Verify, decrypt, re-validate and land one exchange; answer with a signed receipt.

    Raises ExchangeRejected (terminal) after quarantining a bad exchange; transient store
    errors propagate untouched so the caller may retry. Exchanges from one sender are
    received one at a time (a lock in the node's inbound folder): two running at once, e.g.
    two Airflow tasks, could otherwise both pass the ordering check and both land.
    """
    with _one_at_a_time(node, partner):
        return _receive(node, partner, prefix, progress)


@contextmanager
def _one_at_a_time(node: Node, partner: str) -> Iterator[None]:
    lock = node.folder(INBOUND) / partner / ".receiving.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, even on a crash
        yield


def _receive(node: Node, partner: str, prefix: str, progress: Callable[[int], None] | None) -> Received:

    bucket = bucket_name(partner, node.party)
    ref = parse_exchange_prefix(prefix, bucket)
    if ref is None:
        raise ProtocolError(f"s3://{bucket}/{_printable(str(prefix))} is not an exchange prefix",
                            hint="exchanges live at {dataset}/{period}/{exchange_id}; use gcmx pull", bucket=bucket)
    decision = decision_path(node, partner, ref)
    if decision.exists():
        decided = Decision.read(decision)
        if decided.receipt_pending is not None:
            _answer(node, partner, decision, decided)
        return Received(ref.exchange_id, ref.dataset, ref.period, "skipped", decided.status)
    staging = node.folder(LANDING) / ".staging" / f"{partner}.{ref.dataset}.{ref.period}.{ref.exchange_id}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    body, summary = b"", None
    try:
        body = node.store.get_bytes(bucket, f"{ref.prefix}/{MANIFEST}", MANIFEST_MAX)
        signature = node.store.get_bytes(bucket, f"{ref.prefix}/{SIGNATURE}", SIGNATURE_MAX)
        audit = AuditLog.for_home(node.home, node.party)
        audit.append("fetch", exchange_id=ref.exchange_id, bucket=bucket, prefix=ref.prefix)
        manifest = check_manifest(node, ref, partner, body, signature)
        times = record_arrival(node, partner, manifest)  # times observed beside the asserted one (issue 15)
        write_json_atomic(staging / OBSERVED, times)  # lands with the copy: its retention counts from them
        check_arrival(node, partner, ref, manifest, times)  # nothing new signed by a retired key
        contract = check_contract(node, manifest, partner, ref.where())
        audit.append("verify", exchange_id=ref.exchange_id, sender=partner, key_id=manifest.sender_key_id,
                     contract=contract.id, version=contract.version)
        final = landing_folder(node, partner, ref)
        if landed_before(final, body, manifest):
            summary = _summary(json.loads((final / "validation.json").read_text()))
            return _landed(node, partner, ref, manifest, body, summary, final, recovered=True)
        check_order(node, partner, manifest, contract, ref.where())
        start_validation()  # if pull has not yet: the worker and GX's set-up, beside the download
        data = _download_and_decrypt(node, ref, manifest, staging, progress)
        check_parquet(data, manifest.rows, ref.where(DATA))
        check_declared(data, contract, manifest.period)
        report = validate(data, contract, form="exchanged")  # in the worker; every contract column must be present
        summary = ValidationSummary.of(report.summary())
        write_json_atomic(staging / "validation.json", report.to_dict())
        if not report.success:
            raise ExchangeRejected(f"exchange {ref.exchange_id} ({ref.dataset} {ref.period}) from {partner} "
                                   f"fails contract {contract.id}: {'; '.join(report.in_words())}",
                                   hint="quarantined; the sender was told by a rejected receipt",
                                   sender=partner, exchange_id=ref.exchange_id, dataset=ref.dataset,
                                   period=ref.period)
        (staging / MANIFEST).write_bytes(body)
        (staging / SIGNATURE).write_bytes(signature)  # verifiable later (report, gcmx verify) by the key history
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
        return _landed(node, partner, ref, manifest, body, summary, final)
    except TerminalError as exc:
        return _reject(node, partner, ref, body, summary, staging, exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download_and_decrypt(node: Node, ref: ExchangeRef, manifest: Manifest, staging: Path,
                          progress: Callable[[int], None] | None) -> Path:
    """download → hash → file, stopping past the signed size; check the ciphertext hash; only
    then file → age reader → hash → ``data.parquet``, and check the plaintext hash."""
    cipher_path, data = staging / DATA, staging / "data.parquet"
    expected = manifest.ciphertext.size
    with node.store.open_ranged(ref.bucket, f"{ref.prefix}/{DATA}") as stream, cipher_path.open("wb") as out:
        cipher = HashingWriter(out)
        if not copy_at_most(stream, cipher, expected, progress, BLOCK):
            raise ProtocolError(f"{ref.where(DATA)}: larger than the {expected} bytes the manifest signs",
                                hint="the object was replaced or appended to in the bucket",
                                bucket=ref.bucket, key=f"{ref.prefix}/{DATA}", field="ciphertext.size",
                                exchange_id=ref.exchange_id)
    _check_hash(manifest, "ciphertext", cipher.hash.hexdigest(), ref)
    with cipher_path.open("rb") as src, data.open("wb") as out:
        plain = HashingWriter(out)
        shutil.copyfileobj(age.decryptor(src, node.identity.age_identities), plain, BLOCK)
    cipher_path.unlink()
    AuditLog.for_home(node.home, node.party).append("key_use", purpose="decrypt", exchange_id=ref.exchange_id)
    _check_hash(manifest, "plaintext", plain.hash.hexdigest(), ref)
    return data


def _summary(report: dict) -> ValidationSummary:
    """The receipt's short form of a stored validation report (see ValidationReport.summary)."""
    keys = ("contract_id", "contract_version", "contract_hash", "success", "row_count")
    return ValidationSummary.of({**{k: report.get(k) for k in keys}, "evaluated": len(report.get("outcomes", [])),
                                 "failed": []})


def _landed(node: Node, partner: str, ref: ExchangeRef, manifest: Manifest, body: bytes, summary: ValidationSummary,
            final: Path, recovered: bool = False) -> Received:
    AuditLog.for_home(node.home, node.party).append(
        "land", exchange_id=ref.exchange_id, dataset=ref.dataset, period=ref.period, rows=manifest.rows,
        path=str(final), **({"recovered": True} if recovered else {}))
    _answer(node, partner, decision_path(node, partner, ref), Decision(
        "landed", utc_now(), path=str(final),
        receipt_pending=Receipt.answer(ref.exchange_id, ref.dataset, ref.period, partner, node.party, True, "",
                                       summary, hashlib.sha256(body).hexdigest(), manifest.terms_sha256)))
    return Received(ref.exchange_id, ref.dataset, ref.period, "landed", rows=manifest.rows,
                    path=str(final / "data.parquet"))


def _answer(node: Node, partner: str, decision: Path, decided: Decision) -> None:
    """Record the decision, then send its receipt; a receipt that could not be sent (store
    down, or its key taken by a planted object: alarmed once) stays pending in the decision
    and goes out on a later pull."""
    write_json_atomic(decision, decided.to_dict())
    sent = send_receipt(node, partner, decided.receipt_pending, alarm=not decided.slot_taken)
    if sent.status == "slot-taken":
        write_json_atomic(decision, replace(decided, slot_taken=True).to_dict())
    else:
        write_json_atomic(decision, decided.sent().to_dict())


def _check_hash(manifest: Manifest, what: str, actual: str, ref: ExchangeRef) -> None:
    expected = manifest.ciphertext.sha256 if what == "ciphertext" else manifest.plaintext.sha256
    if actual != expected:
        raise ProtocolError(f"{ref.where(DATA)}: {what} SHA-256 {actual[:16]}… does not match the "
                            f"manifest's {expected[:16]}…",
                            hint="the object was altered or truncated in transit or in the bucket",
                            bucket=ref.bucket, key=f"{ref.prefix}/{DATA}", field=f"{what}.sha256",
                            exchange_id=ref.exchange_id)


def _quarantine_name(node: Node, partner: str, ref: ExchangeRef, where: dict) -> str:
    """``{exchange_id}``, or ``{exchange_id}.{hash of the prefix}`` when another prefix of the
    same id (a planted copy, or the original of one) was quarantined first."""
    folder = node.folder(QUARANTINE) / rejected_name(ref.exchange_id)
    if not folder.exists() or ((folder / "exchange.json").is_file()
                               and json.loads((folder / "exchange.json").read_text()) == where):
        return rejected_name(ref.exchange_id)
    return rejected_name(ref.exchange_id, hashlib.sha256(f"{partner}/{ref.prefix}".encode()).hexdigest())


def _reject(node: Node, partner: str, ref: ExchangeRef, body: bytes, summary: ValidationSummary | None,
            staging: Path,
            exc: TerminalError):
    reason = exc.message
    files = {p.name: p for p in staging.glob("*") if p.is_file() and p.name != DATA}
    where = {"sender": partner, "bucket": ref.bucket, "prefix": ref.prefix}
    folder = quarantine(node, _quarantine_name(node, partner, ref, where), reason, files,
                        {"exchange.json": where})
    if body:
        (folder / MANIFEST).write_bytes(body)
    AuditLog.for_home(node.home, node.party).append(  # the reason may quote what the partner signed
        "reject", exchange_id=ref.exchange_id, dataset=ref.dataset, period=ref.period, reason=defused(reason),
        folder=str(folder))
    _answer(node, partner, decision_path(node, partner, ref), Decision(
        "rejected", utc_now(), reason=reason, quarantine=str(folder),
        receipt_pending=Receipt.answer(ref.exchange_id, ref.dataset, ref.period, partner, node.party, False,
                                       reason, summary, hashlib.sha256(body).hexdigest() if body else "")))
    raise ExchangeRejected(f"exchange {ref.exchange_id} ({ref.dataset} {ref.period}) from {partner} "
                           f"rejected: {reason}", hint=f"quarantined in {folder}", folder=str(folder),
                           sender=partner, exchange_id=ref.exchange_id, dataset=ref.dataset,
                           period=ref.period) from exc


def in_publish_order(node: Node, partner: str, prefixes: list[str]) -> list[str]:
    """Prefixes in the sender's publishing order (manifest sequence), so that two revisions
    published between pulls land oldest first instead of the older one being refused as a
    rollback. Only a manifest whose signature verifies is read (bounded reads); any other
    sorts first and is judged, like every exchange, in ``receive``."""
    bucket = bucket_name(partner, node.party)
    try:
        key = node.public_keys(partner).minisign
    except GcmxError:
        return prefixes  # receive says what is missing

    def sequence(prefix: str) -> int:
        try:
            body = node.store.get_bytes(bucket, f"{prefix}/{MANIFEST}", MANIFEST_MAX)
            signature = node.store.get_bytes(bucket, f"{prefix}/{SIGNATURE}", SIGNATURE_MAX)
            key.verify(body, signature)
            return Manifest.from_json(body).sequence
        except GcmxError:
            return 0

    return sorted(prefixes, key=sequence)


def pull(node: Node, partner: str, progress: Callable[[int], None] | None = None) -> list[Received]:
    """Receive every new exchange from ``partner``; one rejection does not stop the others.

    ``progress`` is told the size of each piece of ciphertext downloaded."""
    pick_up_key_statements(node, partner)  # a rotation or revocation applies before any exchange is judged
    watch_own_statements(node, partner)  # a rotation in our name we did not make: our key is stolen
    watch_partner(node, partner)
    results = []
    prefixes = discover(node, partner)
    if prefixes:
        start_validation()  # the worker and GX's set-up, beside the signature checks and downloads
    for prefix in in_publish_order(node, partner, prefixes):
        try:
            results.append(receive(node, partner, prefix, progress))
        except ExchangeRejected as exc:
            dataset, period, eid = prefix.split("/")
            results.append(Received(eid, dataset, period, "rejected", exc.message))
    return results
