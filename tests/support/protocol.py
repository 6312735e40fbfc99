"""Shared set-up for protocol tests: provisioned parties on a real SeaweedFS or an in-memory store."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

from exchange.audit.log import AuditLog
from exchange.canonical import canonical_json
from exchange.clock import utc_now
from exchange.contract.model import load_contract
from exchange.crypto import age
from exchange.devkit.bootstrap import provision
from exchange.devkit.seaweed import SeaweedServer
from exchange.devkit.synthetic import write_dataset
from exchange.protocol.manifest import FORMAT, Manifest, recipient_key_id
from exchange.protocol.naming import bucket_name
from exchange.protocol.node import Node
from exchange.settings import load_settings
from exchange.storage.s3 import Store

MIB = 1 << 20


def nodes_on(homes: dict[str, Path], store_of: Callable[[str], Store]) -> dict[str, Node]:
    """A Node per party of ``homes``, each with the store ``store_of(party)`` (its credentials)."""
    return {p: Node(load_settings(party=p, home=home), store_of(p)) for p, home in homes.items()}


def make_nodes(server: SeaweedServer, base: Path, parties=("KHM", "THA"), classic=False) -> dict[str, Node]:
    """Provision ``parties`` under ``base`` (the first paired with each other one) and return a
    Node per party on ``server``."""
    homes = provision(base, parties, [(parties[0], other) for other in parties[1:]], classic=classic)
    return nodes_on(homes, lambda party: Store(server.client(party)))


def dataset(contract_id: str, folder: Path, period: str = "2026-10", seed: int = 1, **kwargs) -> Path:
    """A synthetic input file for ``contract_id``."""
    contract = load_contract(contract_id)
    return write_dataset(contract, folder / f"{contract_id}-{period}-{seed}.parquet", period, seed=seed,
                         **kwargs)


def signed_objects(signer: Node, fields: dict, plaintext: bytes, recipient_key: str,
                   body_of: Callable[[Manifest], bytes] = Manifest.to_json) -> tuple[Manifest, dict[str, bytes]]:
    """A manifest over ``fields`` signed by ``signer``, with ``plaintext`` encrypted to
    ``recipient_key``: the manifest and its objects by key (data, manifest, signature)."""
    cipher = io.BytesIO()
    with age.encryptor(cipher, [recipient_key]) as sealed:
        sealed.write(plaintext)
    data = cipher.getvalue()
    manifest = Manifest.from_json(canonical_json({
        **fields, "plaintext": {"sha256": hashlib.sha256(plaintext).hexdigest(), "size": len(plaintext)},
        "ciphertext": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}}))
    body = body_of(manifest)
    return manifest, {f"{manifest.prefix}/data.parquet.age": data, f"{manifest.prefix}/manifest.json": body,
                      f"{manifest.prefix}/manifest.json.minisig": signer.identity.signing_key.sign(
                          body, manifest.comment())}


def manifest_fields(sender: Node, recipient: Node, contract_id: str, period: str, exchange_id: str,
                    **overrides) -> dict:
    """The fields of a manifest ``sender`` could sign for ``contract_id`` and ``period``, addressed to
    ``recipient``'s current age key (revision and sequence 1, a passed validation of one row, no
    disclosure control; ``overrides`` replace any field); hashes are left to :func:`signed_objects`."""
    contract = load_contract(contract_id, sender.settings.contracts)
    age_key = sender.public_keys(recipient.party).age_recipient
    fields = dict(exchange_id=exchange_id, bucket=bucket_name(sender.party, recipient.party), sender=sender.party,
                  recipients=[{"party": recipient.party, "key_id": recipient_key_id(age_key),
                               "type": age.parse_recipient(age_key).kind}],
                  dataset=contract.dataset, period=period, revision=1, sequence=1, created=utc_now(),
                  contract={"id": contract.id, "version": contract.version, "hash": contract.hash}, rows=1,
                  validation={"contract_id": contract.id, "contract_version": contract.version,
                              "contract_hash": contract.hash, "success": True, "row_count": 1, "evaluated": 0,
                              "failed": []},
                  disclosure={"method": "none", "rules": {"method": "none"}},
                  sender_key_id=sender.identity.signing_key.public_key.key_id, format=FORMAT,
                  terms_sha256=contract.usage.sha256)
    return {**fields, **overrides}


def signed_exchange(client, bucket: str, signer: Node, fields: dict, plaintext: bytes, recipient_key: str,
                    body_of: Callable[[Manifest], bytes] = Manifest.to_json) -> Manifest:
    """:func:`signed_objects`, written with the boto3 ``client`` into ``bucket``."""
    manifest, objects = signed_objects(signer, fields, plaintext, recipient_key, body_of)
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    return manifest


def forge(signer: Node, recipient: Node, fields: dict, plaintext: bytes = b"PAR1 never read",
          store: Store | None = None) -> Manifest:
    """Write an exchange over ``fields`` signed by ``signer`` (data encrypted to ``recipient``'s
    current key) into the bucket the fields name, with ``store`` (default: the signer's own)."""
    manifest, objects = signed_objects(signer, fields, plaintext, signer.public_keys(recipient.party).age_recipient)
    for key, body in objects.items():
        (store or signer.store).put_bytes(fields["bucket"], key, body)
    return manifest


def events(node: Node, event: str, **details) -> list[dict]:
    """The node's audit entries of ``event`` whose details include ``details``."""
    return [e for e in AuditLog.for_home(node.home, node.party).entries()
            if e["event"] == event and all(e.get(k) == v for k, v in details.items())]


def manifest_doc(store, prefix: str, bucket: str = "khm-to-tha") -> dict:
    """The manifest at ``prefix`` as a dict."""
    return json.loads(store.get_bytes(bucket, f"{prefix}/manifest.json", MIB))


def copy_exchange(store, source: str, target: str, bucket: str = "khm-to-tha") -> None:
    """Copy the three objects of an exchange to another prefix (what a bucket key allows)."""
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        store.put_bytes(bucket, f"{target}/{name}", store.get_bytes(bucket, f"{source}/{name}", 1 << 30))


def receipts_about(store, bucket: str, exchange_id: str) -> list[dict]:
    """Every receipt in ``bucket`` about ``exchange_id``."""
    docs = [json.loads(store.get_bytes(bucket, key, MIB)) for key in store.list_keys(bucket, "receipts/")
            if key.endswith(".json")]
    return [d for d in docs if d["exchange_id"] == exchange_id]


def assert_quarantined(node: Node, sender: str, prefix: str, words: str) -> None:
    """The rejection of ``prefix`` was decided, quarantined with its reason and audited."""
    dataset_, period, eid = prefix.split("/")
    decision = json.loads((node.home / "inbound" / sender / f"{prefix}.json").read_text())
    assert decision["status"] == "rejected" and words in decision["reason"], decision
    reason = json.loads((Path(decision["quarantine"]) / "reason.json").read_text())["reason"]
    assert words in reason
    assert any(e["exchange_id"] == eid and e["period"] == period and e["dataset"] == dataset_
               for e in events(node, "reject"))
    assert not (node.home / "landing" / sender / prefix).exists()
