"""The native X25519 recipient type (``age1...`` / ``AGE-SECRET-KEY-1...``)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from exchange.crypto.age import bech32
from exchange.crypto.age.errors import HeaderError
from exchange.crypto.age.header import Stanza, b64encode, hkdf_sha256, stanza_argument

STANZA_TYPE = "X25519"
RECIPIENT_HRP = "age"
_INFO = b"age-encryption.org/v1/X25519"
_ZERO_NONCE = bytes(12)
_HINT = "the X25519 stanza is malformed; ask the sender to encrypt the file again"


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes_raw()


class X25519Recipient:
    """Wraps file keys to one X25519 public key."""

    kind = "x25519"
    post_quantum = False

    def __init__(self, public_key: bytes):
        self._public = X25519PublicKey.from_public_bytes(public_key)
        self._public_raw = public_key

    def __str__(self) -> str:
        """The recipient string, ``age1...``."""
        return bech32.encode(RECIPIENT_HRP, self._public_raw)

    def wrap(self, file_key: bytes) -> Stanza:
        """Return an ``X25519`` stanza carrying ``file_key``."""
        ephemeral = X25519PrivateKey.from_private_bytes(os.urandom(32))
        share = _raw_public(ephemeral.public_key())
        shared = ephemeral.exchange(self._public)
        wrap_key = hkdf_sha256(shared, share + self._public_raw, _INFO)
        body = ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, None)
        return Stanza(STANZA_TYPE, [b64encode(share).decode("ascii")], body)


class X25519Identity:
    """Unwraps ``X25519`` stanzas with one X25519 secret key."""

    def __init__(self, secret_key: bytes):
        self._secret = X25519PrivateKey.from_private_bytes(secret_key)
        self._public_raw = _raw_public(self._secret.public_key())

    def __repr__(self) -> str:
        return "X25519Identity(<secret>)"

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public_raw

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """Return the file key from the first stanza addressed to this key, else None."""
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise HeaderError("X25519 stanza must have exactly one argument", hint=_HINT)
            share = stanza_argument(stanza.args[0], 32, "X25519 share", _HINT)
            if len(stanza.body) != 32:
                raise HeaderError("X25519 stanza body is not 32 bytes", hint=_HINT)
            try:
                shared = self._secret.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                raise HeaderError("X25519 share is a low-order point", hint=_HINT) from None
            wrap_key = hkdf_sha256(shared, share + self._public_raw, _INFO)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, stanza.body, None)
            except InvalidTag:
                continue
        return None
