"""Provision parties for a demo or a test: keys, keyrings, linkage keys, signed contracts.

In production each office does these steps on its own machine (``gcmx keys generate``,
exchanging ``.pub`` files, ``gcmx contract sign``); here one process plays every party.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from exchange.contract.agreement import sign_contract
from exchange.contract.model import REPOSITORY_CONTRACTS, all_contracts
from exchange.crypto.keys import generate_linkage_key, generate_party_keys, linkage_key_path, load_identity
from exchange.protocol.naming import AGREEMENTS, KEYRING, KEYS


def provision(base: Path, parties: Iterable[str], pairs: Iterable[tuple[str, str]],
              contracts_dir: Path = REPOSITORY_CONTRACTS, classic: bool = False) -> dict[str, Path]:
    """Create ``base/{PARTY}`` homes with keys, cross-filled keyrings, linkage keys and agreements.

    Returns the home folder of each party. Every contract between two provisioned
    parties is signed by both, so it is in force on both sides. With ``classic`` the age
    keys are X25519, so partners can use the stock ``age`` CLI.
    """
    parties = [p.upper() for p in parties]
    homes = {p: base / p for p in parties}
    for party, home in homes.items():
        generate_party_keys(party, home / KEYS, classic=classic)
    for home in homes.values():
        for other in parties:
            (home / KEYRING).mkdir(parents=True, exist_ok=True)
            for suffix in (".age.pub", ".minisign.pub", ".revocation.pub"):
                shutil.copy(homes[other] / KEYS / f"{other}{suffix}", home / KEYRING / f"{other}{suffix}")
    for a, b in pairs:
        created = generate_linkage_key(a, b, homes[a] / KEYS)
        target = linkage_key_path(a, b, homes[b] / KEYS)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copy(created, target)
    for contract in all_contracts(contracts_dir):
        signers = [contract.sender, *contract.recipients]
        if not all(p in homes for p in signers):
            continue
        for signer in signers:
            key = load_identity(signer, homes[signer] / KEYS).signing_key
            signature = sign_contract(contract, signer, key, homes[signer] / AGREEMENTS)
            for other in signers:
                if other != signer:
                    (homes[other] / AGREEMENTS).mkdir(parents=True, exist_ok=True)
                    shutil.copy(signature, homes[other] / AGREEMENTS / signature.name)
    return homes
