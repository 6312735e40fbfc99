"""The manifest of an exchange: what was sent, by whom, to whom, under which contract.

A manifest is canonical JSON (sorted keys, compact), signed in the minisign format;
its trusted comment names the exchange, so a signature cannot be moved to another one.
Receipts travel the other way in the same shape of envelope.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from exchange.clock import utc_now
from exchange.errors import ProtocolError

FORMAT = "gcmx-manifest/1"
RECEIPT_FORMAT = "gcmx-receipt/1"


def canonical_json(data: dict) -> bytes:
    """The one byte form of a JSON document that is hashed and signed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
class Manifest:
    """Everything a recipient needs to verify, open and judge one exchange."""

    exchange_id: str
    bucket: str
    sender: str
    recipients: list[dict]
    dataset: str
    period: str
    revision: int
    sequence: int
    created: str
    contract: dict
    rows: int
    plaintext: dict
    ciphertext: dict
    validation: dict
    disclosure: dict
    sender_key_id: str
    format: str = FORMAT

    @property
    def prefix(self) -> str:
        return f"{self.dataset}/{self.period}/{self.exchange_id}"

    @property
    def recipient_parties(self) -> list[str]:
        return [r["party"] for r in self.recipients]

    def comment(self) -> str:
        """The trusted comment of this manifest's signature."""
        return trusted_comment("manifest", self.exchange_id, self.dataset, self.period,
                               self.sender, ",".join(self.recipient_parties))

    def to_bytes(self) -> bytes:
        return canonical_json(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest; ProtocolError naming ``where`` and the field when malformed."""
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError) as exc:  # ValueError: also a number of over 4300 digits
            raise ProtocolError(f"{where}: manifest is not valid JSON ({getattr(exc, 'msg', type(exc).__name__)})",
                                hint="the object is corrupted or not a gcmx manifest") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ProtocolError(f"{where}: not a {FORMAT} manifest",
                                hint="check the sender runs a compatible gcmx version")
        names = set(cls.__dataclass_fields__)
        missing = sorted(n for n in names if n not in raw)
        unknown = sorted(set(raw) - names)
        if missing or unknown:
            raise ProtocolError(f"{where}: manifest fields missing {missing} / unknown {unknown}",
                                hint="the manifest was altered or written by an incompatible sender")
        return cls(**raw)

    @classmethod
    def from_signed_bytes(cls, data: bytes, where: str) -> Manifest:
        """Parse a manifest whose signature verified, checking every field's type too, so that
        nothing downstream meets a string where it expects a count (ProtocolError naming them)."""
        manifest = cls.from_bytes(data, where)
        raw = vars(manifest)
        wrong = sorted(n for n, kind in _FIELD_TYPES.items() if not _is(raw[n], kind))
        wrong += [f"{n}.{k}" for n, keys in _NESTED.items() if isinstance(raw[n], dict)
                  for k, kind in keys.items() if not _is(raw[n].get(k), kind)]
        recipients = raw["recipients"] if isinstance(raw["recipients"], list) else []
        if not recipients or not all(isinstance(r, dict) and _is(r.get("party"), str)
                                     and _is(r.get("key_id"), str) for r in recipients):
            wrong.append("recipients")
        if wrong:
            raise ProtocolError(f"{where}: manifest fields of the wrong type: {sorted(set(wrong))}",
                                hint="the manifest was altered or written by an incompatible sender")
        return manifest


_FIELD_TYPES = {"exchange_id": str, "bucket": str, "sender": str, "recipients": list, "dataset": str,
                "period": str, "revision": int, "sequence": int, "created": str, "contract": dict,
                "rows": int, "plaintext": dict, "ciphertext": dict, "validation": dict,
                "disclosure": dict, "sender_key_id": str, "format": str}
_NESTED = {"contract": {"id": str, "version": str, "hash": str},
           "plaintext": {"sha256": str, "size": int}, "ciphertext": {"sha256": str, "size": int}}


def _is(value, kind: type) -> bool:
    """``isinstance`` where a bool is not an int and a count is never negative."""
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return isinstance(value, kind)


def receipt(exchange: str, dataset: str, period: str, sender: str, receiver: str, accepted: bool,
            reason: str, validation: dict, manifest_sha256: str) -> dict:
    """A receipt document for one exchange: accepted or rejected, with the reason."""
    return {
        "format": RECEIPT_FORMAT,
        "exchange_id": exchange,
        "dataset": dataset,
        "period": period,
        "sender": sender,
        "receiver": receiver,
        "status": "accepted" if accepted else "rejected",
        "reason": reason,
        "validation": validation,
        "manifest_sha256": manifest_sha256,
        "received": utc_now(),
    }
