"""One party's exchange node: its settings, store, keys and local folders.

The folders of its home (``GCMX_HOME``) are named in :mod:`exchange.protocol.naming`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from exchange.contract.model import Contract, load_contract
from exchange.crypto import keys
from exchange.protocol.naming import AGREEMENTS
from exchange.settings import Settings, load_settings
from exchange.storage.s3 import Store


@dataclass
class Node:
    """Everything one party needs to publish, pull and audit exchanges."""

    settings: Settings
    store: Store
    party: str = field(init=False)

    def __post_init__(self) -> None:
        self.party = self.settings.require_party()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, store: Store | None = None) -> Node:
        """A node from ``GCMX_*`` settings; ``store`` may be injected (e.g. by Airflow)."""
        settings = settings or load_settings()
        return cls(settings, store or Store.from_settings(settings))

    @property
    def home(self) -> Path:
        return self.settings.home

    def folder(self, name: str) -> Path:
        """A local folder of the home (names in :mod:`exchange.protocol.naming`), created on first use."""
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def agreements_dir(self) -> Path:
        return self.folder(AGREEMENTS)

    def contract(self, contract_id: str) -> Contract:
        """The contract ``contract_id`` with its suite, from this node's configured folders."""
        return load_contract(contract_id, self.settings.contracts, self.settings.expectations)

    @cached_property
    def identity(self) -> keys.Identity:
        """This party's secret keys (loaded once, never logged)."""
        return keys.load_identity(self.party, self.settings.identity_dir)

    def public_keys(self, party: str) -> keys.PublicKeys:
        """A party's public keys from the keyring (this node keeps its own there too)."""
        return keys.load_public_keys(party, self.settings.keyring_dir)

    def pseudonym_key(self, contract) -> bytes | None:
        """The key the contract's pseudonyms take: this party's own pseudonym key, or the
        bilateral linkage key when the contract says ``linkage: withRecipient``."""
        from exchange.protocol.protection import pseudonym_key

        return pseudonym_key(contract, self.settings.identity_dir)
