"""Typed errors of the age layer: one class per outcome a caller may need to tell apart.

Messages say what failed and what to check; they never contain key material,
passphrases or decrypted data.
"""

from __future__ import annotations

from exchange.errors import CryptoError


class AgeError(CryptoError):
    """Root of every error raised by :mod:`exchange.crypto.age`."""


class NoIdentityMatchedError(AgeError):
    """None of the given identities can unwrap the file key of this file."""


class HeaderError(AgeError):
    """The age header is malformed, unsupported, or a recipient stanza is invalid."""


class HeaderMacError(AgeError):
    """The header MAC does not verify: the header was altered or the file key is wrong."""


class PayloadError(AgeError):
    """The encrypted payload is truncated, altered, or has data after its final chunk."""


class ArmorError(AgeError):
    """The ASCII armor (PEM "AGE ENCRYPTED FILE") is not strictly well-formed."""


class RecipientParseError(AgeError):
    """A recipient string (``age1...`` / ``age1pq1...``) is not valid."""


class MixedRecipientsError(AgeError):
    """Post-quantum and classic recipients were given for the same file."""


class IdentityParseError(AgeError):
    """An identity (``AGE-SECRET-KEY-...``) or identity file is not valid."""
