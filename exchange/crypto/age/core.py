"""Opening age files as streams, as Go's filippo.io/age does: a writer to encrypt, a reader to decrypt."""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from typing import BinaryIO

from exchange.crypto.age.armor import open_maybe_armored
from exchange.crypto.age.errors import (
    HeaderError,
    HeaderMacError,
    IdentityParseError,
    MixedRecipientsError,
    NoIdentityMatchedError,
    RecipientParseError,
)
from exchange.crypto.age.header import header_mac, parse_header, serialize_header
from exchange.crypto.age.keys import Identity, Recipient, parse_identity, parse_recipient
from exchange.crypto.age.reader import Reader
from exchange.crypto.age.scrypt import STANZA_TYPE as SCRYPT
from exchange.crypto.age.stream import Decryptor, Encryptor


def encryptor(dst: BinaryIO, recipients: Sequence[str | Recipient]) -> Encryptor:
    """A writer that encrypts what is written to it to every recipient, as binary age into ``dst``.

    Recipients are strings (``age1...``, ``age1pq1...``) or parsed recipients
    (:func:`parse_recipient`). The header is written now; ``close()`` (or leaving a
    ``with`` block without an error) finishes the file; ``dst`` is not closed. For ASCII
    armor, pass an :class:`ArmoredWriter` as ``dst``. Post-quantum and classic recipients
    cannot be mixed in one file (a classic stanza would void the post-quantum protection).
    """
    if isinstance(recipients, str) or not recipients:
        raise RecipientParseError("no recipients given",
                                  hint="pass a list of age1... / age1pq1... recipients")
    parsed = [parse_recipient(r) if isinstance(r, str) else r for r in recipients]
    if len({r.post_quantum for r in parsed}) > 1:
        raise MixedRecipientsError(
            "post-quantum (age1pq1...) and classic (age1...) recipients are mixed",
            hint="encrypt to post-quantum recipients only, or to classic ones only",
        )
    file_key = os.urandom(16)
    dst.write(serialize_header([r.wrap(file_key) for r in parsed], file_key))
    return Encryptor(dst, file_key)


def _as_identities(identities: Sequence[str | Identity]) -> list[Identity]:
    if isinstance(identities, str):
        raise IdentityParseError(
            "identities must be a list, not one string",
            hint="pass a list of AGE-SECRET-KEY-... strings or identity objects",
        )
    return [parse_identity(i) if isinstance(i, str) else i for i in identities]


def decryptor(src: BinaryIO, identities: Sequence[str | Identity]) -> Decryptor:
    """A reader of the plaintext of the age file in ``src`` (binary or ASCII-armored, detected).

    The header is read and authenticated now: raises NoIdentityMatchedError, HeaderError,
    HeaderMacError or ArmorError. Reads raise PayloadError (or ArmorError) at the first
    chunk that does not verify, is missing or follows the last one; no byte of such a
    chunk is ever returned. The file is authentic only once a read returned ``b""``
    without error: on any error, discard everything read.
    """
    candidates = _as_identities(identities)
    reader = Reader(open_maybe_armored(src))
    header = parse_header(reader)
    if len(header.stanzas) > 1 and any(s.type == SCRYPT for s in header.stanzas):
        raise HeaderError(
            "age header mixes a passphrase (scrypt) stanza with other stanzas",
            hint="a passphrase-encrypted file must have exactly one stanza; ask for a new file",
        )
    file_key = None
    for identity in candidates:
        file_key = identity.unwrap(header.stanzas)
        if file_key is not None:
            break
    if file_key is None:
        raise NoIdentityMatchedError(
            "none of the given age identities can decrypt this file",
            hint="check that the file was encrypted to this party's public key (gcmx keys show)",
        )
    if not hmac.compare_digest(header_mac(file_key, header.mac_input), header.mac):
        raise HeaderMacError(
            "age header MAC does not verify",
            hint="the header was altered in transit; fetch the file again",
        )
    return Decryptor(reader, file_key)
