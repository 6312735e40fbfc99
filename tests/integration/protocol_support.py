"""Shared set-up for protocol tests: provisioned parties on a real SeaweedFS."""

from __future__ import annotations

from pathlib import Path

from exchange.bootstrap import provision
from exchange.contracts import load_contract
from exchange.node import Node
from exchange.seaweed import SeaweedServer
from exchange.settings import load_settings
from exchange.store import Store
from exchange.synthetic import write_dataset


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

