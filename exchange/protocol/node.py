"""One party's exchange node: its settings, store, keys and local folders.

Local layout under ``GCMX_HOME`` (all inside the party's own country)::

    keys/         this party's secret keys (GCMX_IDENTITY overrides)
    keyring/      partners' public keys (GCMX_KEYRING overrides)
    agreements/   contract signatures ({contract}@{version}.{PARTY}.minisig)
    outbound/     {exchange_id}/ manifest.json, disclosure.json, receipt.json once delivered;
                  _released/{contract}.parquet: what linked releases already sent;
                  _staged/{contract}/{period}/: the DAG's protected data until publish sends it
    landing/      {sender}/{dataset}/{period}/{exchange_id}/ data.parquet, manifest.json, validation.json
    inbound/      {sender}/{dataset}/{period}/{exchange_id}.json: the decision on each inbound exchange
    quarantine/   {name}/ reason.json and the rejected input
    audit/        {PARTY}.audit.jsonl and checkpoints/
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from exchange.crypto import keys
from exchange.settings import Settings, load_settings
from exchange.storage.s3 import Store


def write_json_atomic(path: Path, data: dict) -> Path:
    """Write JSON to ``path`` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)
    return path


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
        """A local folder of the layout above, created on first use."""
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def agreements_dir(self) -> Path:
        return self.folder("agreements")

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
