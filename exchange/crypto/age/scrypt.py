"""The scrypt (passphrase) recipient type, for decryption only."""

from __future__ import annotations

import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from exchange.crypto.age.errors import HeaderError
from exchange.crypto.age.header import Stanza, stanza_argument

STANZA_TYPE = "scrypt"
_SALT_LABEL = b"age-encryption.org/v1/scrypt"
_WORK_FACTOR = re.compile(r"[1-9][0-9]*")
_HINT = "the scrypt stanza is malformed; ask the sender to encrypt the file again"


class ScryptIdentity:
    """Unwraps an ``scrypt`` stanza with a passphrase (work factor capped at ``max_work_factor``)."""

    def __init__(self, passphrase: str | bytes, max_work_factor: int = 22):
        self._passphrase = passphrase.encode() if isinstance(passphrase, str) else passphrase
        self._max_work_factor = max_work_factor

    def __repr__(self) -> str:
        return "ScryptIdentity(<passphrase>)"

    def unwrap(self, stanzas: list[Stanza]) -> bytes | None:
        """Return the file key if the single scrypt stanza opens with the passphrase."""
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanzas) != 1:
                raise HeaderError("an scrypt stanza must be the only stanza", hint=_HINT)
            if len(stanza.args) != 2:
                raise HeaderError("scrypt stanza must have exactly two arguments", hint=_HINT)
            salt = stanza_argument(stanza.args[0], 16, "scrypt salt", _HINT)
            if not _WORK_FACTOR.fullmatch(stanza.args[1]):
                raise HeaderError("scrypt work factor is not a decimal number", hint=_HINT)
            log_n = int(stanza.args[1])
            if log_n > self._max_work_factor:
                raise HeaderError(
                    f"scrypt work factor 2^{log_n} exceeds the limit 2^{self._max_work_factor}",
                    hint="raise max_work_factor only for files from a trusted sender",
                )
            if len(stanza.body) != 32:
                raise HeaderError("scrypt stanza body is not 32 bytes", hint=_HINT)
            kdf = Scrypt(salt=_SALT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1)
            wrap_key = kdf.derive(self._passphrase)
            try:
                return ChaCha20Poly1305(wrap_key).decrypt(bytes(12), stanza.body, None)
            except InvalidTag:
                return None
        return None
