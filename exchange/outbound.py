"""Sending side of the protocol: validate → protect → encrypt while uploading → sign → publish.

Publishing is atomic to readers: the encrypted data goes first, the manifest and its
signature last, each with a create-only write. The exchange id is derived from sender,
recipient, dataset, period, revision and the SHA-256 of the input, so re-running a
publish after a crash at any step finishes the same exchange instead of making a second.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow.parquet as pq

from exchange import age
from exchange.agreement import require_in_force
from exchange.audit import AuditLog
from exchange.contracts import Contract, load_contract, parse_period
from exchange.errors import ContractError, DisclosureError, ProtocolError
from exchange.limits import MANIFEST_MAX
from exchange.manifest import DATA, Manifest, exchange_id, recipient_key_id, utc_now
from exchange.node import Node, write_json_atomic
from exchange.protection import protect_on_node
from exchange.quality import validate
from exchange.seaweed import bucket_name
from exchange.store import MANIFEST, SIGNATURE
from exchange.streams import HashingReader, consume_produced

ROW_GROUP = 256 * 1024


class ContractBreach(ContractError):
    """The dataset does not honour its contract; it was quarantined, nothing was sent."""


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


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def outbound_contract(node: Node, contract_id: str, period: str) -> Contract:
    """The contract, checked: this node is its sender, the period fits, it is in force."""
    contract = load_contract(contract_id, node.settings.contracts)
    if contract.sender != node.party:
        raise ContractError(f"contract {contract.id}: sender is {contract.sender}, this node is {node.party}",
                            hint="publish only datasets this party sends; check GCMX_PARTY")
    if len(contract.recipients) != 1:
        raise ContractError(f"contract {contract.id}: one recipient per contract expected",
                            hint="split the agreement into one contract per direction")
    parse_period(contract, period)
    parties = [contract.sender, *contract.recipients]
    require_in_force(contract, node.agreements_dir, {p: node.public_keys(p).minisign for p in parties})
    return contract


def quarantine(node: Node, name: str, reason: str, files: dict[str, Path] | None = None,
               documents: dict[str, dict] | None = None) -> Path:
    """Keep a rejected input with its reason under quarantine/{name}/; nothing is lost."""
    folder = node.folder("quarantine") / name
    folder.mkdir(parents=True, exist_ok=True)
    for target, source in (files or {}).items():
        if source.exists():
            shutil.copy2(source, folder / target)
    for target, document in (documents or {}).items():
        write_json_atomic(folder / target, document)
    write_json_atomic(folder / "reason.json", {"reason": reason, "time": utc_now()})
    return folder


def check_source(node: Node, source: Path, contract_id: str, period: str) -> dict:
    """Validate ``source`` against its contract; quarantine it and raise ContractBreach if it fails."""
    contract = outbound_contract(node, contract_id, period)
    report = validate(source, contract)
    if not report.success:
        name = f"{contract.id}-{period}-{file_sha256(source)[:12]}"
        folder = quarantine(node, name, "failed validation", {"input.parquet": source},
                            {"validation.json": report.to_dict()})
        AuditLog.for_home(node.home, node.party).append(
            "quarantine", contract=contract.id, period=period, reason="failed validation",
            failed=report.summary().get("failed", []), folder=str(folder))
        raise ContractBreach(f"dataset {contract.dataset} ({source.name}) breaks contract {contract.id}: "
                             f"{_failed_text(report.summary())}",
                             hint=f"nothing was sent; the file and its report are in {folder}")
    return report.summary()


def _failed_text(summary: dict) -> str:
    failed = summary.get("failed") or []
    return "failed " + ", ".join(str(f) for f in failed[:5]) if failed else "validation failed"


def protect_source(node: Node, source: Path, contract: Contract) -> tuple:
    """The dataset as it may leave the country: disclosure rules applied (table, report)."""
    return protect_on_node(node, source, contract)  # contract-only input, keys, releases


def _quarantine_unprotectable(node: Node, source: Path, contract: Contract, period: str,
                              exc: DisclosureError) -> None:
    quarantine(node, f"{contract.id}-{period}-{file_sha256(source)[:12]}",
               f"disclosure control failed: {exc.message}", {"input.parquet": source})


def preview_protection(node: Node, source: Path, contract_id: str, period: str) -> dict:
    """The disclosure report the publish will carry (counts only), computed without sending.

    A dataset that cannot be protected is quarantined with the reason (DisclosureError)."""
    contract = outbound_contract(node, contract_id, period)
    try:
        return protect_source(node, source, contract)[1]
    except DisclosureError as exc:
        _quarantine_unprotectable(node, source, contract, period, exc)
        raise


def _protect_checked(node: Node, source: Path, contract: Contract, period: str, checking: Future) -> tuple:
    """Protect while validation runs; when protection fails, a contract breach explains it better."""
    try:
        return protect_source(node, source, contract)
    except DisclosureError as exc:
        checking.result()  # raises ContractBreach (quarantined with its report) if the data broke the contract
        _quarantine_unprotectable(node, source, contract, period, exc)
        raise


def _bucket_manifests(node: Node, bucket: str, dataset: str) -> list[tuple[str, Manifest | None, bool]]:
    """(prefix, manifest, signed) for every manifest this sender already wrote for ``dataset``."""
    keys = set(node.store.list_keys(bucket, f"{dataset}/"))
    found = []
    for key in sorted(k for k in keys if k.endswith("/" + MANIFEST)):
        prefix = key.removesuffix("/" + MANIFEST)
        manifest = Manifest.from_bytes(node.store.get_bytes(bucket, key, MANIFEST_MAX), f"s3://{bucket}/{key}")
        found.append((prefix, manifest, f"{prefix}/{SIGNATURE}" in keys))
    return found


def publish(node: Node, source: Path, contract_id: str, period: str,
            progress: Callable[[int], None] | None = None) -> PublishResult:
    """Publish ``source`` as the exchange of ``contract_id`` for ``period``; safe to re-run."""
    source = Path(source)
    contract = outbound_contract(node, contract_id, period)
    recipient = contract.recipients[0]
    bucket = bucket_name(contract.sender, recipient)
    audit = AuditLog.for_home(node.home, node.party)
    source_sha = file_sha256(source)
    existing = _bucket_manifests(node, bucket, contract.dataset)
    in_period = [m for _, m, _ in existing if m.period == period]
    revision = next((m.revision for m in in_period
                     if m.exchange_id == exchange_id(node.party, recipient, contract.dataset, period,
                                                     m.revision, source_sha)), None)
    if revision is not None:
        manifest, signed = next((m, signed) for _, m, signed in existing
                                if m.revision == revision and m.period == period)
        if not signed:
            _sign_and_put(node, bucket, manifest, audit)
        _keep_local(node, manifest)
        return _result(manifest, bucket, created=False)
    revision = 1 + max((m.revision for m in in_period), default=0)
    sequence = 1 + max((m.sequence for _, m, _ in existing), default=0)
    eid = exchange_id(node.party, recipient, contract.dataset, period, revision, source_sha)
    recipient_key = node.public_keys(recipient).age_recipient
    key = f"{contract.dataset}/{period}/{eid}/{DATA}"
    # Validation runs beside protection and upload. Only protected bytes leave, and the
    # multipart upload completes only once validation has passed: a breach aborts it, so
    # nothing of a dataset that breaks its contract stays in the bucket.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate") as pool:
        checking = pool.submit(check_source, node, source, contract_id, period)
        protected, disclosure = _protect_checked(node, source, contract, period, checking)
        with node.store.writer(bucket, key, progress=progress) as upload:
            plain = {}

            def encrypt(source_stream) -> None:
                hashing = HashingReader(source_stream)
                age.encrypt(hashing, upload, [recipient_key])
                plain.update(sha256=hashing.hash.hexdigest(), size=hashing.size)

            consume_produced(lambda sink: pq.write_table(protected, sink, row_group_size=ROW_GROUP,
                                                         compression="zstd"), encrypt)
            validation = checking.result()
    sent = upload.result
    manifest = Manifest(
        exchange_id=eid, bucket=bucket, sender=node.party,
        recipients=[{"party": recipient, "key_id": recipient_key_id(recipient_key),
                     "type": "mlkem768x25519" if recipient_key.startswith("age1pq1") else "x25519"}],
        dataset=contract.dataset, period=period, revision=revision, sequence=sequence, created=utc_now(),
        contract={"id": contract.id, "version": contract.version, "hash": contract.hash},
        rows=protected.num_rows, plaintext=plain,
        ciphertext={"sha256": sent.sha256, "size": sent.size},
        validation=validation, disclosure=disclosure,
        sender_key_id=node.identity.signing_key.public_key.key_id)
    _sign_and_put(node, bucket, manifest, audit)
    _keep_local(node, manifest)
    audit.append("publish", exchange_id=eid, contract=contract.id, dataset=contract.dataset, period=period,
                 recipient=recipient, revision=revision, sequence=sequence, rows=protected.num_rows,
                 ciphertext_sha256=sent.sha256, bucket=bucket)
    return _result(manifest, bucket, created=True)


def _sign_and_put(node: Node, bucket: str, manifest: Manifest, audit: AuditLog) -> None:
    body = manifest.to_bytes()
    signature = node.identity.signing_key.sign(body, manifest.comment())
    audit.append("key_use", purpose="sign manifest", exchange_id=manifest.exchange_id,
                 key_id=manifest.sender_key_id)
    node.store.put_if_absent(bucket, f"{manifest.prefix}/{MANIFEST}", body)
    stored = node.store.get_bytes(bucket, f"{manifest.prefix}/{MANIFEST}", MANIFEST_MAX)
    if stored != body:
        raise ProtocolError(f"s3://{bucket}/{manifest.prefix}/{MANIFEST} holds another manifest",
                            hint="an earlier attempt wrote it; re-run publish to resume that exchange")
    node.store.put_if_absent(bucket, f"{manifest.prefix}/{SIGNATURE}", signature)


def _keep_local(node: Node, manifest: Manifest) -> None:
    folder = node.folder("outbound") / manifest.exchange_id
    write_json_atomic(folder / "manifest.json", json.loads(manifest.to_bytes()))


def _result(manifest: Manifest, bucket: str, created: bool) -> PublishResult:
    return PublishResult(manifest.exchange_id, bucket, manifest.prefix, manifest.rows, manifest.revision,
                         manifest.sequence, created, manifest.validation, manifest.disclosure)

