"""What a recipient checks of a signed manifest before it downloads a byte of data.

* The signature, with the key of the partner whose bucket it is, over a manifest that
  names exactly this prefix, bucket and sender, addressed to this party's own age key.
* The contract the manifest names: its sender is that partner, this party is its
  recipient, and dataset, bucket and period style are the contract's; held in force; the
  manifest's ``terms_sha256`` is the hash of its retention, purpose and prohibited uses.
* Order: newer than what this sender already landed under the same contract, dataset
  and period (a replay or rollback is refused; another sender's exchange does not count).
"""

from __future__ import annotations

from pathlib import Path

from exchange.contract.agreement import require_in_force
from exchange.contract.model import ID_PATTERN, Contract, parse_period
from exchange.crypto import age
from exchange.errors import ProtocolError
from exchange.protocol.key_checks import check_signing_time, verify_signer
from exchange.protocol.limits import EXCHANGE_MAX
from exchange.protocol.manifest import Manifest, recipient_key_id
from exchange.protocol.naming import INBOUND, LANDING, MANIFEST, ExchangeRef, bucket_name, signature_key
from exchange.protocol.node import Node
from exchange.storage.streams import file_sha256

_COPIED = "the manifest was copied from another exchange or bucket; the genuine one is unaffected"


def check_manifest(node: Node, ref: ExchangeRef, sender: str, body: bytes, signature: bytes) -> Manifest:
    """The manifest of ``ref``, verified with ``sender``'s key and checked against its prefix."""
    where = ref.where(MANIFEST)
    comment, signer = verify_signer(node, sender, body, signature, f"signature {signature_key(where)}")
    manifest = Manifest.from_json(body, where)
    if comment != manifest.comment():
        raise ProtocolError(f"{where}: signature names another exchange ({comment!r})",
                            hint="a signature was moved between exchanges; ask the sender to republish",
                            bucket=ref.bucket, key=f"{ref.prefix}/{MANIFEST}", exchange_id=ref.exchange_id)
    expected = {"exchange_id": ref.exchange_id, "dataset": ref.dataset, "period": ref.period,
                "bucket": ref.bucket, "sender": sender, "sender_key_id": signer.key_id}
    for name, value in expected.items():
        actual = getattr(manifest, name)
        if actual != value:
            raise ProtocolError(f"{where}: manifest {name} is {actual!r}, expected {value!r}", hint=_COPIED,
                                bucket=ref.bucket, key=f"{ref.prefix}/{MANIFEST}", field=name,
                                exchange_id=ref.exchange_id)
    check_signing_time(node, sender, ref, signer, manifest)  # the key was valid when it says it signed
    if manifest.recipient_parties != [node.party]:
        raise ProtocolError(f"{where}: exchange is addressed to {manifest.recipient_parties}, "
                            f"not to {node.party} alone",
                            hint="the sender encrypted it for another party; ask it to republish",
                            bucket=ref.bucket, key=f"{ref.prefix}/{MANIFEST}", field="recipients",
                            exchange_id=ref.exchange_id)
    for name, size in (("ciphertext.size", manifest.ciphertext.size), ("plaintext.size", manifest.plaintext.size)):
        if size > EXCHANGE_MAX:
            raise ProtocolError(f"{where}: manifest {name} is {size} bytes, over the limit of {EXCHANGE_MAX}",
                                hint="no exchange is that large; ask the sender to split it",
                                bucket=ref.bucket, key=f"{ref.prefix}/{MANIFEST}", field=name,
                                exchange_id=ref.exchange_id)
    key_id, own = manifest.recipients[0].key_id, own_recipient_key_ids(node)
    if key_id not in own:
        raise ProtocolError(f"{where}: encrypted to age key {key_id}, this party's key is "
                            f"{', '.join(sorted(own))}",
                            hint="the sender holds a stale or wrong public key of this party; "
                                 "send it the current .age.pub and ask it to republish",
                            bucket=ref.bucket, key=f"{ref.prefix}/{MANIFEST}", field="recipients.key_id",
                            exchange_id=ref.exchange_id)
    return manifest


def own_recipient_key_ids(node: Node) -> set[str]:
    """Key ids (:func:`exchange.protocol.manifest.recipient_key_id`) of this party's own age identities."""
    return {recipient_key_id(age.to_recipient(identity)) for identity in node.identity.age_identities}


def check_contract(node: Node, manifest: Manifest, sender: str, where: str) -> Contract:
    """The contract the manifest names, checked against its terms and held in force."""
    contract_id = manifest.contract.id
    if not ID_PATTERN.fullmatch(contract_id):
        raise ProtocolError(f"{where}: contract id {contract_id!r} is not a contract id",
                            hint="the sender's manifest is malformed; ask it to republish",
                            field="contract.id", exchange_id=manifest.exchange_id)
    contract = node.contract(contract_id)
    if contract.sender != sender or node.party not in contract.recipients:
        raise ProtocolError(f"{where}: contract {contract.id} is from {contract.sender} to "
                            f"{'/'.join(contract.recipients)}; this exchange is from {sender} to {node.party}",
                            hint="a partner sent under a contract that is not its own; refused",
                            field="contract.id", exchange_id=manifest.exchange_id)
    terms = {"sender": contract.sender, "dataset": contract.dataset,
             "bucket": bucket_name(contract.sender, node.party)}
    for name, value in terms.items():
        if getattr(manifest, name) != value:
            raise ProtocolError(f"{where}: manifest {name} is {getattr(manifest, name)!r}, "
                                f"contract {contract.id} says {value!r}",
                                hint="the exchange does not fit the contract it names; refused",
                                field=name, exchange_id=manifest.exchange_id)
    parse_period(contract, manifest.period)
    if (contract.version, contract.hash) != (manifest.contract.version, manifest.contract.hash):
        raise ProtocolError(f"{where}: sent under contract {contract.id} v{manifest.contract.version} "
                            f"which this node does not hold in force (it holds v{contract.version})",
                            hint="agree and sign the same contract version",
                            field="contract.version", exchange_id=manifest.exchange_id)
    if manifest.terms_sha256 != contract.usage.sha256:
        raise ProtocolError(f"{where}: manifest terms_sha256 {manifest.terms_sha256[:16]!r} is not the hash of the "
                            f"retention, purpose and prohibited uses of contract {contract.id} v{contract.version} "
                            f"held here ({contract.usage.sha256[:16]})",
                            hint="the sender must publish under the usage terms both parties signed; refused",
                            field="terms_sha256", exchange_id=manifest.exchange_id)
    parties = [contract.sender, *contract.recipients]
    require_in_force(contract, node.agreements_dir, {p: node.public_keys(p).minisign for p in parties})
    return contract


def decision_path(node: Node, sender: str, ref: ExchangeRef) -> Path:
    """``inbound/{sender}/{dataset}/{period}/{exchange_id}.json``: what this node decided."""
    return node.folder(INBOUND) / sender / ref.dataset / ref.period / f"{ref.exchange_id}.json"


def landing_folder(node: Node, sender: str, ref: ExchangeRef) -> Path:
    """``landing/{sender}/{dataset}/{period}/{exchange_id}``."""
    return node.folder(LANDING) / sender / ref.dataset / ref.period / ref.exchange_id


def landed_before(folder: Path, body: bytes, manifest: Manifest) -> bool:
    """Whether ``folder`` holds this very exchange, landed by a run that died before recording
    its decision: the same signed manifest, and data with the signed plaintext hash."""
    if not (folder / MANIFEST).is_file():
        return False
    if (folder / MANIFEST).read_bytes() != body or not (folder / "data.parquet").is_file() \
            or file_sha256(folder / "data.parquet") != manifest.plaintext.sha256:
        raise ProtocolError(f"{folder} already holds another exchange with id {manifest.exchange_id}",
                            hint="the sender signed two different exchanges under one id; refused",
                            exchange_id=manifest.exchange_id)
    return True


def check_order(node: Node, sender: str, manifest: Manifest, contract: Contract, where: str) -> None:
    """Refuse a replay or rollback: not newer than what ``sender`` landed under this contract,
    dataset and period. A sender raises both the revision and the sequence with every new
    exchange of a period, so a second exchange of a landed revision is a replay too."""
    folder = node.folder(LANDING) / sender / manifest.dataset / manifest.period
    for path in sorted(folder.glob(f"*/{MANIFEST}")):
        landed = Manifest.from_json(path.read_bytes(), str(path))
        if landed.contract.id != contract.id or landed.exchange_id == manifest.exchange_id:
            continue
        if landed.revision >= manifest.revision or landed.sequence >= manifest.sequence:
            raise ProtocolError(f"{where}: revision {manifest.revision} / sequence {manifest.sequence} is not "
                                f"newer than landed {landed.exchange_id} (revision {landed.revision}, "
                                f"sequence {landed.sequence})", hint="a replayed or rolled-back exchange",
                                field="revision", exchange_id=manifest.exchange_id)
