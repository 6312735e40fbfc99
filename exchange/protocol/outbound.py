"""Sending side of the protocol: validate → protect → encrypt while uploading → sign → publish.

The data flows as one straight pipeline: the protected table is written as Parquet into a
hashing writer, into an age writer, into the multipart upload (no temp file, no thread).

Publishing is atomic to readers: the encrypted data goes first, the manifest and its
signature last, each with a create-only write. The exchange id is derived from sender,
recipient, dataset, period, revision and the SHA-256 of the input, so re-running a
publish after a crash at any step finishes the same exchange instead of making a second.

Before anything is read, encrypted or uploaded, the keys, keyring and agreement are
checked, and the rows must hold the period and parties the exchange declares
(:mod:`exchange.protocol.declared`). The sender trusts only what it recorded or signed itself
(:mod:`exchange.protocol.sent`): a manifest planted in its bucket is never reused or signed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq

from exchange.atomic import write_json_atomic
from exchange.audit.log import AuditLog
from exchange.clock import utc_now
from exchange.contract import validation_worker
from exchange.contract.agreement import require_in_force
from exchange.contract.model import Contract, parse_period
from exchange.contract.validation import ValidationReport
from exchange.contract.validation import validate as validate_here
from exchange.crypto import age
from exchange.errors import ConfigError, ContractError, DisclosureError, ProtocolError, QuarantineError
from exchange.protocol.claims import allocate, publishing
from exchange.protocol.declared import DeclarationMismatch, check_declared
from exchange.protocol.freshness import sync_index
from exchange.protocol.manifest import ContractRef, Digest, Manifest, Recipient, exchange_id, recipient_key_id
from exchange.protocol.naming import DATA, QUARANTINE, blocked_name, bucket_name, exchange_prefix
from exchange.protocol.node import Node
from exchange.protocol.observed import record_publication
from exchange.protocol.protection import protect_on_node
from exchange.protocol.receipts import Receipt
from exchange.protocol.sent import RECORD, put_signed, record_folder, record_published, trusted_manifests, write_record
from exchange.protocol.staged import Prepared
from exchange.protocol.summaries import DisclosureSummary, ValidationSummary
from exchange.storage.streams import HashingWriter, file_sha256

ROW_GROUP = 256 * 1024


class ContractBreach(ContractError, QuarantineError):
    """The dataset does not honour its contract; it was quarantined (``folder``), nothing was sent."""


@dataclass(frozen=True)
class PublishResult:
    """What a publish did: the exchange, where it is, and whether it was new."""

    exchange_id: str
    bucket: str
    prefix: str
    rows: int
    revision: int
    sequence: int
    created_now: bool
    validation: dict
    disclosure: dict

    def to_dict(self) -> dict:
        return asdict(self)


def outbound_contract(node: Node, contract_id: str, period: str) -> Contract:
    """The contract, checked: this node is its sender, the period fits, it is in force."""
    contract = node.contract(contract_id)
    if contract.sender != node.party:
        raise ContractError(f"contract {contract.id}: sender is {contract.sender}, this node is {node.party}",
                            hint="publish only datasets this party sends; check GCMX_PARTY",
                            contract=contract.id, field="sender")
    if len(contract.recipients) != 1:
        raise ContractError(f"contract {contract.id}: one recipient per contract expected",
                            hint="split the agreement into one contract per direction",
                            contract=contract.id, field="recipients")
    parse_period(contract, period)
    parties = [contract.sender, *contract.recipients]
    require_in_force(contract, node.agreements_dir, {p: node.public_keys(p).minisign for p in parties})
    return contract


def quarantine(node: Node, name: str, reason: str, files: dict[str, Path] | None = None,
               documents: dict[str, dict] | None = None) -> Path:
    """Keep a rejected input with its reason under quarantine/{name}/; nothing is lost."""
    folder = node.folder(QUARANTINE) / name
    folder.mkdir(parents=True, exist_ok=True)
    for target, source in (files or {}).items():
        if source.exists():
            shutil.copy2(source, folder / target)
    for target, document in (documents or {}).items():
        write_json_atomic(folder / target, document)
    write_json_atomic(folder / "reason.json", {"reason": reason, "time": utc_now()})
    return folder


def _quarantine_name(source: Path, contract: Contract, period: str) -> str:
    return blocked_name(contract.id, period, file_sha256(source))


def check_declared_terms(node: Node, source: Path, contract: Contract, period: str) -> None:
    """The rows must hold what the exchange declares (period, areas); else quarantine, ContractBreach."""
    try:
        check_declared(source, contract, period)
    except DeclarationMismatch as exc:
        folder = quarantine(node, _quarantine_name(source, contract, period), exc.message,
                            {"input.parquet": source})
        AuditLog.for_home(node.home, node.party).append(
            "quarantine", contract=contract.id, period=period, reason=exc.message[:400], folder=str(folder))
        raise ContractBreach(f"dataset {contract.dataset} ({source.name}) breaks contract {contract.id}: "
                             f"{exc.message}", hint=f"nothing was sent; the file is in {folder}",
                             contract=contract.id, dataset=contract.dataset, period=period,
                             folder=str(folder)) from None


def validate(source: Path, contract: Contract, *, apart: bool = False) -> ValidationReport:
    """The contract's suite on the sender's input, before protection (the raw form): in this
    process, or ``apart`` in the validation worker (beside protection, off its interpreter lock)."""
    return (validation_worker.validate if apart else validate_here)(source, contract, form="raw")


def _validated(node: Node, source: Path, contract: Contract, period: str, apart: bool = False) -> ValidationSummary:
    report = validate(source, contract, apart=apart)
    if not report.success:
        folder = quarantine(node, _quarantine_name(source, contract, period), "failed validation",
                            {"input.parquet": source}, {"validation.json": report.to_dict()})
        AuditLog.for_home(node.home, node.party).append(
            "quarantine", contract=contract.id, period=period, reason="failed validation",
            failed=report.summary().get("failed", []), folder=str(folder))
        raise ContractBreach(f"dataset {contract.dataset} ({source.name}) breaks contract {contract.id}: "
                             f"{'; '.join(report.in_words()) or 'validation failed'}",
                             hint=f"nothing was sent; the file and its report are in {folder}",
                             contract=contract.id, dataset=contract.dataset, period=period, folder=str(folder))
    return ValidationSummary.of(report.summary())


def check_source(node: Node, source: Path, contract_id: str, period: str) -> ValidationSummary:
    """Check ``source`` against its contract (declared terms, then validation); quarantine it and
    raise ContractBreach if it fails."""
    contract = outbound_contract(node, contract_id, period)
    check_declared_terms(node, source, contract, period)
    return _validated(node, source, contract, period)


def protect_source(node: Node, source: Path, contract: Contract, source_sha256: str) -> tuple:
    """The dataset as it may leave the country: disclosure rules applied (table, the
    sender's full DisclosureReport; the manifest carries only its ``for_partner`` view).
    ``source_sha256`` is the input's SHA-256, hashed once by the caller."""
    return protect_on_node(node, source, contract, source_sha256)  # contract-only input, keys, releases


def quarantine_unprotectable(node: Node, source: Path, contract: Contract, period: str,
                             exc: DisclosureError) -> None:
    """Keep an input disclosure control could not protect, with the reason."""
    quarantine(node, _quarantine_name(source, contract, period),
               f"disclosure control failed: {exc.message}", {"input.parquet": source})


def _protect_checked(node: Node, source: Path, source_sha256: str, contract: Contract, period: str,
                     checking: Future) -> tuple:
    """Protect while validation runs; when protection fails, a contract breach explains it better."""
    try:
        return protect_source(node, source, contract, source_sha256)
    except DisclosureError as exc:
        checking.result()  # raises ContractBreach (quarantined with its report) if the data broke the contract
        quarantine_unprotectable(node, source, contract, period, exc)
        raise


def ready_to_send(node: Node, contract_id: str, period: str) -> tuple[Contract, age.Recipient]:
    """The contract and the recipient's parsed age key, once everything a publish needs is in
    place: contract in force, this party's signing key (matching its public key in the
    keyring), the recipient's age key and the linkage key. Checked before anything is read,
    encrypted or uploaded."""
    contract = outbound_contract(node, contract_id, period)
    recipient = contract.recipients[0]
    signing_key = node.identity.signing_key
    published = node.public_keys(node.party).minisign
    if signing_key.public_key != published:
        raise ConfigError(f"signing key {signing_key.key_id} of {node.party} is not the public key "
                          f"{published.key_id} in the keyring that partners verify with",
                          hint="use the secret key that belongs to the published public key, or send "
                               "partners the new public key first", path=str(node.settings.identity_dir))
    age_recipient = age.parse_recipient(node.public_keys(recipient).age_recipient)
    if contract.disclosure.get("pseudonymise"):
        node.pseudonym_key(contract)
    return contract, age_recipient


def write_encrypted(table, upload: BinaryIO, recipient: age.Recipient) -> dict:
    """Write ``table`` as Parquet, hashed, into an age writer on ``upload``; the plaintext's
    ``sha256`` and ``size`` (the bytes the recipient will decrypt)."""
    with age.encryptor(upload, [recipient]) as sealed:
        plain = HashingWriter(sealed)
        pq.write_table(table, plain, row_group_size=ROW_GROUP, compression="zstd")
    return {"sha256": plain.hash.hexdigest(), "size": plain.size}


def publish(node: Node, source: Path, contract_id: str, period: str,
            progress: Callable[[int], None] | None = None, prepared: Prepared | None = None) -> PublishResult:
    """Publish ``source`` as the exchange of ``contract_id`` for ``period``; safe to re-run.

    Only what this node recorded or signed itself counts (see :mod:`exchange.protocol.sent`): a re-run
    finishes or confirms its own exchange and never signs anything planted in the bucket.
    ``prepared``: the validation and protection of this very input, done by the DAG's earlier
    tasks (:mod:`exchange.protocol.staged`); its protected bytes are sent as they are. When it
    does not match the input or the contract, publish validates and protects itself."""
    source = Path(source)
    if prepared is None:
        validation_worker.start()  # GX's set-up, in its own process, beside what follows
    contract, recipient_key = ready_to_send(node, contract_id, period)
    with publishing(node, bucket_name(contract.sender, contract.recipients[0]), contract.dataset, period):
        return _publish(node, source, contract, recipient_key, period, progress, prepared)


def _publish(node: Node, source: Path, contract: Contract, recipient_key: age.Recipient, period: str,
             progress: Callable[[int], None] | None, prepared: Prepared | None) -> PublishResult:
    """:func:`publish` once this home's lock of the dataset and period is held."""
    recipient = contract.recipients[0]
    source_sha = file_sha256(source)
    if prepared is not None and not prepared.matches(source_sha, contract):
        prepared = None
    if prepared is None:
        check_declared_terms(node, source, contract, period)  # else checked when it was validated
    bucket = bucket_name(contract.sender, recipient)
    own = trusted_manifests(node, bucket, contract.dataset, recipient)
    in_period = [m for m in own.values() if m.period == period]
    same = [m for m in in_period
            if m.exchange_id == exchange_id(node.party, recipient, contract.dataset, period, m.revision, source_sha)]
    done = max(same, key=lambda m: m.revision, default=None)
    if done is not None and not _rejected(node, done):
        if not (record_folder(node, done.exchange_id) / RECORD).exists():
            write_record(node, done)
        return _finish(node, done)
    claimed = allocate(node, bucket, recipient, contract.dataset, period, source_sha, own)
    if isinstance(claimed, Manifest):  # another run published this very exchange meanwhile
        if not (record_folder(node, claimed.exchange_id) / RECORD).exists():
            write_record(node, claimed)
        return _finish(node, claimed)
    eid, revision, sequence = claimed.exchange_id, claimed.revision, claimed.sequence
    key = f"{exchange_prefix(contract.dataset, period, eid)}/{DATA}"
    if prepared is not None:
        sent, plain = _upload_prepared(node, bucket, key, prepared, recipient_key, progress)
        rows, validation, disclosure, for_partner = (prepared.rows, ValidationSummary.of(prepared.validation),
                                                     prepared.disclosure,
                                                     prepared.for_partner)
    else:
        sent, plain, rows, validation, disclosure, for_partner = _protect_and_upload(
            node, source, source_sha, contract, period, bucket, key, recipient_key, progress)
    manifest = Manifest(
        exchange_id=eid, bucket=bucket, sender=node.party,
        recipients=(Recipient(recipient, recipient_key_id(str(recipient_key)), recipient_key.kind),),
        dataset=contract.dataset, period=period, revision=revision, sequence=sequence, created=utc_now(),
        contract=ContractRef(contract.id, contract.version, contract.hash),
        rows=rows, plaintext=Digest(plain["sha256"], plain["size"]),
        ciphertext=Digest(sent.sha256, sent.size),
        validation=validation, disclosure=DisclosureSummary.of(for_partner),
        sender_key_id=node.identity.signing_key.public_key.key_id, terms_sha256=contract.usage.sha256)
    write_record(node, manifest)
    write_json_atomic(record_folder(node, eid) / "disclosure.json", disclosure)  # sender's own
    return _finish(node, manifest)


def _protect_and_upload(node: Node, source: Path, source_sha: str, contract: Contract, period: str,
                        bucket: str, key: str, recipient_key: age.Recipient,
                        progress: Callable[[int], None] | None) -> tuple:
    """Validate, protect, encrypt and upload ``source``: (upload, plaintext hash and size, rows,
    validation summary, the sender's disclosure report, its view for the partner)."""
    # Validation runs beside protection and upload, in the validation worker's process (not
    # on this one's interpreter lock or in its memory). Only protected bytes leave, and the
    # multipart upload completes only once validation has passed: a breach aborts it, so
    # nothing of a dataset that breaks its contract stays in the bucket.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate") as pool:
        checking = pool.submit(_validated, node, source, contract, period, True)
        protected, disclosure = _protect_checked(node, source, source_sha, contract, period, checking)
        with node.store.writer(bucket, key, progress=progress) as upload:
            plain = write_encrypted(protected, upload, recipient_key)
            validation = checking.result()
    return (upload.result, plain, protected.num_rows, validation, disclosure.to_dict(),
            disclosure.for_partner())


def _upload_prepared(node: Node, bucket: str, key: str, prepared: Prepared, recipient_key: age.Recipient,
                     progress: Callable[[int], None] | None) -> tuple:
    """Encrypt and upload the protected file an earlier task staged: (upload, plaintext hash and size)."""
    with prepared.protected.open("rb") as protected, node.store.writer(bucket, key, progress=progress) as upload:
        with age.encryptor(upload, [recipient_key]) as sealed:
            plain = HashingWriter(sealed)
            shutil.copyfileobj(protected, plain, 1 << 20)
            if plain.hash.hexdigest() != prepared.protected_sha256:  # changed since it was checked
                raise ProtocolError(f"{prepared.protected}: the staged protected data changed while it was "
                                    "being sent", hint="nothing was sent; run the outbound DAG again",
                                    field="protected_sha256")
    return upload.result, {"sha256": plain.hash.hexdigest(), "size": plain.size}


def _rejected(node: Node, manifest: Manifest) -> bool:
    """Whether the recipient answered ``manifest`` with a verified ``rejected`` receipt (then a
    re-run sends the same input again as a new revision, e.g. after its data was deleted)."""
    path = record_folder(node, manifest.exchange_id) / "receipt.json"
    try:
        return Receipt.from_json(path.read_bytes(), str(path)).status == "rejected"
    except (OSError, ProtocolError):
        return False


def _finish(node: Node, manifest: Manifest) -> PublishResult:
    """Put the recorded manifest and its signature in the bucket and audit ``publish`` once.

    ``created_now`` says whether this run completed the exchange."""
    put_signed(node, manifest)
    record_publication(node, manifest)  # when it appeared, beside its created time (issue 15)
    created = record_published(node, manifest)
    sync_index(node, manifest.recipient_parties[0])
    return PublishResult(manifest.exchange_id, manifest.bucket, manifest.prefix, manifest.rows,
                         manifest.revision, manifest.sequence, created, manifest.validation.to_dict(),
                         manifest.disclosure.to_dict())
