"""The manifest of an exchange: what was sent, by whom, to whom, under which contract.

A manifest is canonical JSON (:mod:`exchange.canonical`), signed in the minisign format;
its trusted comment names the exchange, so a signature cannot be moved to another one.
It is read strictly (:mod:`exchange.protocol.strict`): every field present and of its type,
nested parts included, and nothing else.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from exchange.canonical import canonical_json
from exchange.protocol.naming import exchange_prefix
from exchange.protocol.strict import Fields, parse_json
from exchange.protocol.summaries import DisclosureSummary, ValidationSummary

FORMAT = "gcmx-manifest/1"
_FORMAT = re.compile(re.escape(FORMAT))


def exchange_id(sender: str, recipient: str, dataset: str, period: str, revision: int,
                source_sha256: str) -> str:
    """Deterministic id: a retried publish of the same input lands on the same exchange."""
    material = "\n".join([FORMAT, sender, recipient, dataset, period, str(revision), source_sha256])
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def recipient_key_id(recipient: str) -> str:
    """A short, public id of an age recipient (age has none of its own)."""
    return hashlib.sha256(recipient.encode()).hexdigest()[:16]


def trusted_comment(kind: str, exchange: str, dataset: str, period: str, sender: str,
                    recipient: str) -> str:
    """What a signature says it is about, checked on verification."""
    return f"gcmx {kind} {exchange} {dataset} {period} {sender}->{recipient}"


@dataclass(frozen=True)
class Recipient:
    """One party an exchange is encrypted to, and which of its age keys."""

    party: str
    key_id: str
    type: str  # x25519 | mlkem768x25519

    @classmethod
    def read(cls, f: Fields) -> Recipient:
        made = cls(f.text("party"), f.text("key_id"), f.text("type"))
        f.done()
        return made

    def to_dict(self) -> dict[str, Any]:
        return {"party": self.party, "key_id": self.key_id, "type": self.type}


@dataclass(frozen=True)
class ContractRef:
    """The contract an exchange was sent under: id, version and hash (what was agreed)."""

    id: str
    version: str
    hash: str

    @classmethod
    def read(cls, f: Fields) -> ContractRef:
        made = cls(f.text("id"), f.text("version"), f.text("hash"))
        f.done()
        return made

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "hash": self.hash}


@dataclass(frozen=True)
class Digest:
    """SHA-256 and size of a byte stream (the plaintext Parquet or the age ciphertext)."""

    sha256: str
    size: int

    @classmethod
    def read(cls, f: Fields) -> Digest:
        made = cls(f.text("sha256"), f.count("size"))
        f.done()
        return made

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Manifest:
    """Everything a recipient needs to verify, open and judge one exchange."""

    exchange_id: str
    bucket: str
    sender: str
    recipients: tuple[Recipient, ...]
    dataset: str
    period: str
    revision: int
    sequence: int
    created: str
    contract: ContractRef
    rows: int
    plaintext: Digest
    ciphertext: Digest
    validation: ValidationSummary
    disclosure: DisclosureSummary
    sender_key_id: str
    terms_sha256: str = ""  # the contract's usage terms (exchange.contract.usage_terms); "" only in old records
    format: str = FORMAT

    @property
    def prefix(self) -> str:
        """``{dataset}/{period}/{exchange_id}`` in the sender's bucket (see :mod:`exchange.protocol.naming`)."""
        return exchange_prefix(self.dataset, self.period, self.exchange_id)

    @property
    def recipient_parties(self) -> list[str]:
        return [r.party for r in self.recipients]

    def comment(self) -> str:
        """The trusted comment of this manifest's signature."""
        return trusted_comment("manifest", self.exchange_id, self.dataset, self.period,
                               self.sender, ",".join(self.recipient_parties))

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a JSON value (for a local record; the wire form is :meth:`to_json`)."""
        return {"exchange_id": self.exchange_id, "bucket": self.bucket, "sender": self.sender,
                "recipients": [r.to_dict() for r in self.recipients], "dataset": self.dataset,
                "period": self.period, "revision": self.revision, "sequence": self.sequence,
                "created": self.created, "contract": self.contract.to_dict(), "rows": self.rows,
                "plaintext": self.plaintext.to_dict(), "ciphertext": self.ciphertext.to_dict(),
                "validation": self.validation.to_dict(), "disclosure": self.disclosure.to_dict(),
                "sender_key_id": self.sender_key_id, "format": self.format,
                **({"terms_sha256": self.terms_sha256} if self.terms_sha256 else {})}

    def to_json(self) -> bytes:
        """The canonical bytes that are signed."""
        return canonical_json(self.to_dict())

    @property
    def sha256(self) -> str:
        """SHA-256 of the signed bytes (what a receipt and the freshness index name)."""
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "manifest") -> Manifest:
        """Parse a manifest strictly: a ProtocolError names ``where`` and the field that is
        missing, unknown or of the wrong type (nested fields too). Bound the size before."""
        f = Fields(parse_json(data, "manifest", where), "manifest", where)
        f.text("format", _FORMAT)
        recipients = f.items("recipients", Recipient.read)
        if not recipients:
            raise f.fail("recipients", "is empty")
        made = cls(
            exchange_id=f.text("exchange_id"), bucket=f.text("bucket"), sender=f.text("sender"),
            recipients=recipients, dataset=f.text("dataset"), period=f.text("period"),
            revision=f.count("revision"), sequence=f.count("sequence"), created=f.text("created"),
            contract=f.nested("contract", ContractRef.read), rows=f.count("rows"),
            plaintext=f.nested("plaintext", Digest.read), ciphertext=f.nested("ciphertext", Digest.read),
            validation=f.nested("validation", ValidationSummary.read),
            disclosure=f.nested("disclosure", DisclosureSummary.read),
            sender_key_id=f.text("sender_key_id"), terms_sha256=f.text("terms_sha256", optional=True) or "")
        f.done()
        return made
