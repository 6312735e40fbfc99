"""Shared set-up for protocol tests: provisioned parties on a real SeaweedFS."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

from exchange.contract.model import load_contract
from exchange.crypto import age
from exchange.devkit.bootstrap import provision
from exchange.devkit.seaweed import SeaweedServer
from exchange.devkit.synthetic import write_dataset
from exchange.protocol.manifest import Manifest
from exchange.protocol.node import Node
from exchange.settings import load_settings
from exchange.storage.s3 import Store


def make_nodes(server: SeaweedServer, base: Path, parties=("KHM", "THA"), classic=False) -> dict[str, Node]:
    """Provision ``parties`` under ``base`` (the first paired with each other one) and return a
    Node per party on ``server``."""
    homes = provision(base, parties, [(parties[0], other) for other in parties[1:]], classic=classic)
    return {p: Node(load_settings(party=p, home=homes[p]), Store(server.client(p))) for p in parties}


def dataset(contract_id: str, folder: Path, period: str = "2026-10", seed: int = 1, **kwargs) -> Path:
    """A synthetic input file for ``contract_id``."""
    contract = load_contract(contract_id)
    return write_dataset(contract, folder / f"{contract_id}-{period}-{seed}.parquet", period, seed=seed,
                         **kwargs)


def signed_exchange(client, bucket: str, signer: Node, fields: dict, plaintext: bytes, recipient_key: str,
                    body_of: Callable[[Manifest], bytes] = Manifest.to_bytes) -> Manifest:
    """A manifest over ``fields`` signed by ``signer``, with ``plaintext`` encrypted to
    ``recipient_key``, written with ``client`` into ``bucket`` (data, manifest, signature)."""
    cipher = io.BytesIO()
    with age.encryptor(cipher, [recipient_key]) as sealed:
        sealed.write(plaintext)
    data = cipher.getvalue()
    manifest = Manifest(**{**fields,
                           "plaintext": {"sha256": hashlib.sha256(plaintext).hexdigest(), "size": len(plaintext)},
                           "ciphertext": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}})
    body = body_of(manifest)
    client.put_object(Bucket=bucket, Key=f"{manifest.prefix}/data.parquet.age", Body=data)
    client.put_object(Bucket=bucket, Key=f"{manifest.prefix}/manifest.json", Body=body)
    client.put_object(Bucket=bucket, Key=f"{manifest.prefix}/manifest.json.minisig",
                      Body=signer.identity.signing_key.sign(body, manifest.comment()))
    return manifest
