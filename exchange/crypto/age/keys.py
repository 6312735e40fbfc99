"""Key strings and identity files: generation, parsing, age-keygen's file format."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Protocol

from exchange.crypto.age import bech32
from exchange.crypto.age.errors import IdentityParseError, RecipientParseError
from exchange.crypto.age.header import Stanza
from exchange.crypto.age.hybrid import RECIPIENT_HRP as HYBRID_RECIPIENT_HRP
from exchange.crypto.age.hybrid import HybridIdentity, HybridRecipient
from exchange.crypto.age.x25519 import RECIPIENT_HRP as X25519_RECIPIENT_HRP
from exchange.crypto.age.x25519 import X25519Identity, X25519Recipient

X25519_IDENTITY_HRP = "AGE-SECRET-KEY-"
HYBRID_IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
_IDENTITY_HINT = "check that the identity file holds an age secret key (AGE-SECRET-KEY-...)"


class Identity(Protocol):
    """Anything that can recover a file key from the header's stanzas."""

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """Return the file key, None if no stanza is for this identity; raise HeaderError."""


class Recipient(Protocol):
    """Anything that can wrap a file key into a stanza."""

    kind: str  # the recipient type, lowercase: "x25519" or "mlkem768x25519"
    post_quantum: bool  # whether the type resists a quantum computer (never mixed with classic ones)

    def wrap(self, file_key: bytes) -> Stanza:
        """Return a stanza carrying ``file_key`` for this recipient."""

    def __str__(self) -> str:
        """The recipient string (``age1...`` / ``age1pq1...``)."""


def parse_recipient(text: str) -> X25519Recipient | HybridRecipient:
    """Parse ``age1...`` (X25519) or ``age1pq1...`` (ML-KEM-768 + X25519)."""
    shown = text if len(text) <= 24 else text[:20] + "..."
    hint = "use the partner's age public key exactly as published (age1... or age1pq1...)"
    try:
        hrp, data = bech32.decode(text.strip())
    except ValueError as exc:
        raise RecipientParseError(
            f"recipient {shown!r} is not valid Bech32 ({exc})", hint=hint
        ) from None
    if text.strip() != text.strip().lower():
        raise RecipientParseError(f"recipient {shown!r} must be lowercase", hint=hint)
    try:
        if hrp == X25519_RECIPIENT_HRP and len(data) == 32:
            return X25519Recipient(data)
        if hrp == HYBRID_RECIPIENT_HRP:
            return HybridRecipient(data)
    except ValueError:
        pass
    raise RecipientParseError(f"recipient {shown!r} is not an X25519 or hybrid key", hint=hint)


def parse_identity(text: str) -> X25519Identity | HybridIdentity:
    """Parse ``AGE-SECRET-KEY-1...`` or ``AGE-SECRET-KEY-PQ-1...`` (never echoed in errors)."""
    try:
        hrp, data = bech32.decode(text.strip())
    except ValueError:
        raise IdentityParseError("age identity is not valid Bech32", hint=_IDENTITY_HINT) from None
    hrp = hrp.upper()
    if len(data) == 32 and hrp == X25519_IDENTITY_HRP:
        return X25519Identity(data)
    if len(data) == 32 and hrp == HYBRID_IDENTITY_HRP:
        return HybridIdentity(data)
    raise IdentityParseError("age identity has an unknown type or size", hint=_IDENTITY_HINT)


def generate_identity(post_quantum: bool = True) -> str:
    """Return a new secret key string: hybrid ``AGE-SECRET-KEY-PQ-1...`` or X25519."""
    hrp = HYBRID_IDENTITY_HRP if post_quantum else X25519_IDENTITY_HRP
    return bech32.encode(hrp, os.urandom(32)).upper()


def to_recipient(identity: str) -> str:
    """Return the public recipient string (``age1...`` / ``age1pq1...``) of an identity."""
    parsed = parse_identity(identity)
    hrp = HYBRID_RECIPIENT_HRP if isinstance(parsed, HybridIdentity) else X25519_RECIPIENT_HRP
    return bech32.encode(hrp, parsed.public_bytes())


def read_identity_file(text: str) -> list[str]:
    """Return the identities of an age identity file (``#`` comments and blank lines skipped)."""
    identities = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parse_identity(line)
        except IdentityParseError as exc:
            raise IdentityParseError(
                f"identity file line {number} is not an age secret key", hint=exc.hint
            ) from None
        identities.append(line)
    if not identities:
        raise IdentityParseError("identity file holds no age secret key", hint=_IDENTITY_HINT)
    return identities


def format_identity_file(identity: str) -> str:
    """Return the identity in age-keygen's file format (created, public key, key line)."""
    created = datetime.now(UTC).astimezone().replace(microsecond=0).isoformat()
    return f"# created: {created}\n# public key: {to_recipient(identity)}\n{identity}\n"
