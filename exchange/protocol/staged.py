"""An outbound exchange in steps (the DAG's tasks): protect once, publish what was protected.

``gcmx publish`` validates, protects and uploads in one process. The outbound DAG runs
the same steps as separate tasks (separate processes under a real scheduler), and each
heavy step runs once: the ``protect`` task writes the protected dataset and its
disclosure report to the node's outbound folder, and ``publish`` encrypts and uploads
exactly those bytes instead of protecting again::

    outbound/_staged/{contract}/{period}/{sha16}.parquet   the protected data, as it will be encrypted
    outbound/_staged/{contract}/{period}/{sha16}.json      rows, hashes, the disclosure report

``sha16`` is the start of the input file's SHA-256, so a re-run of the task for the same
input rewrites the same files, and ``publish`` uses them only when they belong to the
input it sends (same SHA-256, same contract hash, the protected bytes unchanged); else
it protects and validates itself, as ``gcmx publish`` does. Once the exchange is
published the staged files are removed. They never leave the node's home.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from exchange.atomic import atomic_output, write_bytes_atomic
from exchange.contract.model import Contract
from exchange.errors import DisclosureError
from exchange.protocol.naming import OUTBOUND, STAGED
from exchange.protocol.node import Node
from exchange.storage.streams import HashingWriter, file_sha256


@dataclass(frozen=True)
class Prepared:
    """The validation and protection of one input, done by earlier tasks, for ``publish``."""

    source_sha256: str
    contract_hash: str
    validated_sha256: str
    validation: dict
    protected: Path
    protected_sha256: str
    rows: int
    disclosure: dict
    for_partner: dict

    @classmethod
    def from_json(cls, data: dict, record: Path, validation: dict, validated_sha256: str) -> Prepared:
        """The prepared input from a staged record (``{sha16}.json``) and the validation summary
        of the input whose SHA-256 is ``validated_sha256``."""
        return cls(source_sha256=data["source_sha256"], contract_hash=data["contract_hash"],
                   validated_sha256=validated_sha256, validation=validation, protected=record.with_suffix(".parquet"),
                   protected_sha256=data["protected_sha256"], rows=int(data["rows"]),
                   disclosure=data["disclosure"], for_partner=data["for_partner"])

    def matches(self, source_sha256: str, contract: Contract) -> bool:
        """Whether this is the protection and the passed validation of that very input under
        that contract, its protected bytes intact."""
        return (self.source_sha256 == self.validated_sha256 == source_sha256
                and self.contract_hash == contract.hash
                and self.validation.get("contract_hash") == contract.hash
                and self.validation.get("success") is True and self.protected.is_file()
                and file_sha256(self.protected) == self.protected_sha256)


def staged_record(node: Node, contract_id: str, period: str, source_sha256: str) -> Path:
    """``outbound/_staged/{contract}/{period}/{sha16}.json`` (its data file beside it)."""
    return node.folder(OUTBOUND) / STAGED / contract_id / period / f"{source_sha256[:16]}.json"


def stage_protection(node: Node, source: Path, contract_id: str, period: str) -> dict:
    """Protect ``source`` once and keep the result for ``publish``; return the staged record.

    A dataset that cannot be protected is quarantined with the reason (DisclosureError)."""
    from exchange.protocol.outbound import ROW_GROUP, outbound_contract, protect_source, quarantine_unprotectable

    contract = outbound_contract(node, contract_id, period)
    source_sha = file_sha256(source)
    try:
        table, report = protect_source(node, source, contract, source_sha)
    except DisclosureError as exc:
        quarantine_unprotectable(node, source, contract, period, exc)
        raise
    record = staged_record(node, contract.id, period, source_sha)
    target = record.with_suffix(".parquet")
    with atomic_output(target) as out:
        protected = HashingWriter(out)  # hashed as written, not read back
        pq.write_table(table, protected, row_group_size=ROW_GROUP, compression="zstd")  # as publish writes it
    data = {"contract": contract.id, "period": period, "contract_hash": contract.hash,
            "source_sha256": source_sha, "protected_sha256": protected.hash.hexdigest(), "rows": table.num_rows,
            "disclosure": report.to_dict(), "for_partner": report.for_partner()}
    body = json.dumps(data, sort_keys=True).encode()
    write_bytes_atomic(record, body)
    return {**data, "staged": str(record), "record_sha256": hashlib.sha256(body).hexdigest()}


def load_prepared(staged: str | Path | None, record_sha256: str | None, validation: dict | None,
                  validated_sha256: str | None) -> Prepared | None:
    """The prepared input at ``staged`` with the validation summary of the input whose SHA-256
    is ``validated_sha256`` (None: nothing usable).

    ``record_sha256`` is the staged record's hash as the protect task returned it (through
    Airflow, not the home folder): a record changed on disk since, by a bug or a local user,
    is not used, and its ``protected_sha256`` binds the protected bytes publish sends."""
    if not staged or not record_sha256 or not validation or not validated_sha256:
        return None
    record = Path(staged)
    try:
        body = record.read_bytes()
        if hashlib.sha256(body).hexdigest() != record_sha256:
            return None
        return Prepared.from_json(json.loads(body), record, validation, validated_sha256)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_staged(prepared: Prepared) -> None:
    """Drop the staged files once their exchange is published (they are in the bucket now)."""
    for path in (prepared.protected, prepared.protected.with_suffix(".json")):
        path.unlink(missing_ok=True)
