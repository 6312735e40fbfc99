"""The age v1 file format (age-encryption.org/v1, c2sp.org/age) built on ``cryptography``.

As in Go's filippo.io/age, files are streams:

* :func:`encryptor` (dst, recipients) returns a writer: write the plaintext, ``close()``
  finishes the file. Recipients are X25519 (``age1...``) or post-quantum hybrid
  ML-KEM-768 + X25519 (``age1pq1...``), never both in one file; :func:`parse_recipient`
  tells which (``kind``, ``post_quantum``). Wrap ``dst`` in :class:`ArmoredWriter` for armor.
* :func:`decryptor` (src, identities) returns a reader of the plaintext, with identity
  strings (``AGE-SECRET-KEY-1...``, ``AGE-SECRET-KEY-PQ-1...``) or identity objects such
  as :class:`ScryptIdentity`; ASCII armor is detected. A chunk's bytes are returned only
  after it authenticated, but a file is authentic only when the reader reached its end
  without error: on any error, discard what was read.
"""

from exchange.crypto.age.armor import ArmoredWriter
from exchange.crypto.age.core import decryptor, encryptor
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
    Recipient,
    format_identity_file,
    generate_identity,
    parse_identity,
    parse_recipient,
    read_identity_file,
    to_recipient,
)
from exchange.crypto.age.scrypt import ScryptIdentity
from exchange.crypto.age.stream import Decryptor, Encryptor
from exchange.crypto.age.x25519 import X25519Identity

__all__ = [
    "AgeError",
    "ArmorError",
    "ArmoredWriter",
    "Decryptor",
    "Encryptor",
    "HeaderError",
    "HeaderMacError",
    "HybridIdentity",
    "Identity",
    "IdentityParseError",
    "MixedRecipientsError",
    "NoIdentityMatchedError",
    "PayloadError",
    "Recipient",
    "RecipientParseError",
    "ScryptIdentity",
    "X25519Identity",
    "decryptor",
    "encryptor",
    "format_identity_file",
    "generate_identity",
    "parse_identity",
    "parse_recipient",
    "read_identity_file",
    "to_recipient",
]
