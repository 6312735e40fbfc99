"""The post-quantum ``mlkem768x25519`` recipient type (``age1pq1...`` / ``AGE-SECRET-KEY-PQ-1...``).

HPKE SealBase with KEM MLKEM768-X25519, HKDF-SHA256 and ChaCha20Poly1305, info
``age-encryption.org/mlkem768x25519``. The 32-byte identity is a seed that
SHAKE-256 expands into the ML-KEM-768 seed (64 bytes) and the X25519 key (32
bytes), as filippo.io/hpke-pq specifies.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from exchange.crypto.age import bech32
from exchange.crypto.age.errors import HeaderError
from exchange.crypto.age.header import Stanza, b64encode, stanza_argument

STANZA_TYPE = "mlkem768x25519"
RECIPIENT_HRP = "age1pq"
INFO = b"age-encryption.org/mlkem768x25519"
MLKEM_PUBLIC = 1184
MLKEM_CIPHERTEXT = 1088
PUBLIC_SIZE = MLKEM_PUBLIC + 32
ENC_SIZE = MLKEM_CIPHERTEXT + 32
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_HINT = "the mlkem768x25519 stanza is malformed; ask the sender to encrypt the file again"


class HybridRecipient:
    """Wraps file keys to one ML-KEM-768 + X25519 hybrid public key."""

    kind = STANZA_TYPE
    post_quantum = True

    def __init__(self, public_key: bytes):
        if len(public_key) != PUBLIC_SIZE:
            raise ValueError("wrong public key size")
        self._public = hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(public_key[:MLKEM_PUBLIC]),
            X25519PublicKey.from_public_bytes(public_key[MLKEM_PUBLIC:]),
        )
        self._public_raw = public_key

    def __str__(self) -> str:
        """The recipient string, ``age1pq1...``."""
        return bech32.encode(RECIPIENT_HRP, self._public_raw)

    def wrap(self, file_key: bytes) -> Stanza:
        """Return an ``mlkem768x25519`` stanza carrying ``file_key``."""
        sealed = _SUITE.encrypt(file_key, self._public, info=INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return Stanza(STANZA_TYPE, [b64encode(enc).decode("ascii")], body)


class HybridIdentity:
    """Unwraps ``mlkem768x25519`` stanzas with one hybrid identity seed."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise ValueError("wrong seed size")
        expanded = hashlib.shake_256(seed).digest(64 + 32)
        self._mlkem = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        self._private = hpke.MLKEM768X25519PrivateKey(self._mlkem, self._x25519)

    def __repr__(self) -> str:
        return "HybridIdentity(<secret>)"

    def public_bytes(self) -> bytes:
        """The 1216-byte public key: ML-KEM-768 encapsulation key || X25519 point."""
        return (
            self._mlkem.public_key().public_bytes_raw()
            + self._x25519.public_key().public_bytes_raw()
        )

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """Return the file key from the first stanza addressed to this key, else None."""
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise HeaderError("mlkem768x25519 stanza must have one argument", hint=_HINT)
            enc = stanza_argument(stanza.args[0], ENC_SIZE, "mlkem768x25519 enc", _HINT)
            if len(stanza.body) != 32:
                raise HeaderError("mlkem768x25519 stanza body is not 32 bytes", hint=_HINT)
            try:
                self._x25519.exchange(X25519PublicKey.from_public_bytes(enc[MLKEM_CIPHERTEXT:]))
            except ValueError:
                raise HeaderError("mlkem768x25519 X25519 share is low-order", hint=_HINT) from None
            try:
                return _SUITE.decrypt(enc + stanza.body, self._private, info=INFO)
            except InvalidTag:
                continue
        return None
