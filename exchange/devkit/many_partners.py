"""Many partners for DAG-parsing tests: 20 partners of KHM with 10 or more contracts each.

Contracts are made from one of the repository's contracts (``workers_deployed.khm-tha``) by
renaming its dataset and parties; each partner gets ``outbound`` contracts KHM sends to it and
``inbound`` ones it sends to KHM. The keyring gets every partner's public keys (copies of KHM's,
so the files exist as a real keyring's do) and the agreements folder every party's agreement
file of every contract, signed for real with KHM's key over the contract file. That is what the
DAG file checks while Airflow parses it (file presence: :func:`exchange.orchestration.airflow_glue.readiness`);
the tasks verify the signatures before anything runs, which these DAGs never do.
"""

from __future__ import annotations

import shutil
import string
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from exchange.contract.model import REPOSITORY_CONTRACTS
from exchange.contract.terms import CONTRACT_SUFFIX
from exchange.crypto.keys import key_file_paths, load_identity
from exchange.protocol.naming import AGREEMENTS, KEYRING, KEYS, agreement_file

TEMPLATE = "workers_deployed.khm-tha"
HOME_PARTY, TEMPLATE_PARTNER, TEMPLATE_DATASET = "KHM", "THA", "workers_deployed"


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote: the contracts folder, the partners and the contract ids."""

    contracts: Path
    partners: list[str]
    contract_ids: list[str]


def partner_codes(count: int) -> list[str]:
    """``count`` made-up three-letter party codes (``QAA``, ``QAB``, ...), none a real country's."""
    return ["Q" + a + b for a, b in product(string.ascii_uppercase, repeat=2)][:count]


def _contract(text: str, dataset: str, sender: str, recipient: str) -> str:
    """The template with its dataset and parties renamed (sender first, so KHM->THA becomes either way)."""
    marks = {HOME_PARTY: "\x00S", TEMPLATE_PARTNER: "\x00R"}
    for code, mark in marks.items():
        text = text.replace(code, mark).replace(code.lower(), mark.lower())
    text = text.replace(TEMPLATE_DATASET, dataset)
    for party, mark in ((sender, "\x00S"), (recipient, "\x00R")):
        text = text.replace(mark, party).replace(mark.lower(), party.lower())
    return text


def generate(home: Path, target: Path, partners: int = 20, outbound: int = 10, inbound: int = 1) -> Generated:
    """Write ``partners`` x (``outbound`` + ``inbound``) contracts into ``target`` and make them in force in
    KHM's ``home`` (provisioned: its keys in ``home/keys``): keyring entries and agreement files."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("parties.yaml", "codelists.yaml"):
        shutil.copy(REPOSITORY_CONTRACTS / name, target / name)
    text = (REPOSITORY_CONTRACTS / f"{TEMPLATE}{CONTRACT_SUFFIX}").read_text(encoding="utf-8")
    signing_key = load_identity(HOME_PARTY, home / KEYS).signing_key
    own = key_file_paths(HOME_PARTY, home / KEYRING)
    codes, ids = partner_codes(partners), []
    (home / AGREEMENTS).mkdir(parents=True, exist_ok=True)
    for code in codes:
        theirs = key_file_paths(code, home / KEYRING)
        shutil.copy(own.age_recipient, theirs.age_recipient)
        shutil.copy(own.minisign_public, theirs.minisign_public)
        directions = [(HOME_PARTY, code)] * outbound + [(code, HOME_PARTY)] * inbound
        for number, (sender, recipient) in enumerate(directions):
            dataset = f"{TEMPLATE_DATASET}_{number:02d}"
            contract_id = f"{dataset}.{sender.lower()}-{recipient.lower()}"
            body = _contract(text, dataset, sender, recipient)
            (target / f"{contract_id}{CONTRACT_SUFFIX}").write_text(body, encoding="utf-8")
            signature = signing_key.sign(body.encode(), f"gcmx agreement {contract_id}")
            for party in (sender, recipient):
                (home / AGREEMENTS / agreement_file(contract_id, "1.0.0", party)).write_bytes(signature)
            ids.append(contract_id)
    return Generated(target, codes, ids)
