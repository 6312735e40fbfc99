"""The age v1 file format (age-encryption.org/v1, c2sp.org/age) built on ``cryptography``.

* :func:`encrypt` / :func:`encrypt_file` to X25519 (``age1...``) or post-quantum
  hybrid ML-KEM-768 + X25519 (``age1pq1...``) recipients, never both in one file.
* :func:`decrypt` / :func:`decrypt_file` with identity strings
  (``AGE-SECRET-KEY-1...``, ``AGE-SECRET-KEY-PQ-1...``) or identity objects such
  as :class:`ScryptIdentity`; ASCII armor is detected.
* Streaming contract of :func:`decrypt`: verified 64 KiB chunks reach ``dst``
  before the end of the file is checked, so on any error the caller must
  discard ``dst``. :func:`decrypt_file` writes a temp file beside the target
  and renames it only on success.
"""

from exchange.crypto.age.armor import ArmoredWriter
from exchange.crypto.age.core import decrypt, decrypt_file, encrypt, encrypt_file
from exchange.crypto.age.errors import (
    AgeError,
    ArmorError,
    HeaderError,
    HeaderMacError,
    IdentityParseError,
    MixedRecipientsError,
    NoIdentityMatchedError,
    PayloadError,
    RecipientParseError,
)
from exchange.crypto.age.hybrid import HybridIdentity
from exchange.crypto.age.keys import (
    Identity,
    format_identity_file,
    generate_identity,
    parse_identity,
    read_identity_file,
    to_recipient,
)
from exchange.crypto.age.scrypt import ScryptIdentity
from exchange.crypto.age.x25519 import X25519Identity

__all__ = [
    "AgeError",
    "ArmorError",
    "ArmoredWriter",
    "HeaderError",
    "HeaderMacError",
    "HybridIdentity",
    "Identity",
    "IdentityParseError",
    "MixedRecipientsError",
    "NoIdentityMatchedError",
    "PayloadError",
    "RecipientParseError",
    "ScryptIdentity",
    "X25519Identity",
    "decrypt",
    "decrypt_file",
    "encrypt",
    "encrypt_file",
    "format_identity_file",
    "generate_identity",
    "parse_identity",
    "read_identity_file",
    "to_recipient",
]
