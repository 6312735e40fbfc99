"""Encrypting and decrypting whole age files (binary or armored), streaming."""

from __future__ import annotations

import hmac
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from exchange.crypto.age.armor import ArmoredWriter, ArmorReader, open_maybe_armored
from exchange.crypto.age.errors import (
    HeaderError,
    HeaderMacError,
    IdentityParseError,
    MixedRecipientsError,
    NoIdentityMatchedError,
    RecipientParseError,
)
from exchange.crypto.age.header import header_mac, parse_header, serialize_header
from exchange.crypto.age.keys import Identity, parse_identity, parse_recipient
from exchange.crypto.age.reader import Reader
from exchange.crypto.age.scrypt import STANZA_TYPE as SCRYPT
from exchange.crypto.age.stream import decrypt_payload, encrypt_payload


def encrypt(src: BinaryIO, dst: BinaryIO, recipients: Sequence[str]) -> None:
    """Encrypt ``src`` to every recipient (``age1...`` or ``age1pq1...``) as binary age.

    Post-quantum and classic recipients cannot be mixed in one file (a classic
    stanza would void the post-quantum protection). Memory use is constant.
    """
    if isinstance(recipients, str) or not recipients:
        raise RecipientParseError(
            "no recipients given", hint="pass a list of age1... / age1pq1... strings"
        )
    parsed = [parse_recipient(r) for r in recipients]
    if len({r.post_quantum for r in parsed}) > 1:
        raise MixedRecipientsError(
            "post-quantum (age1pq1...) and classic (age1...) recipients are mixed",
            hint="encrypt to post-quantum recipients only, or to classic ones only",
        )
    file_key = os.urandom(16)
    dst.write(serialize_header([r.wrap(file_key) for r in parsed], file_key))
    encrypt_payload(src, dst, file_key)


def _as_identities(identities: Sequence[str | Identity]) -> list[Identity]:
    if isinstance(identities, str):
        raise IdentityParseError(
            "identities must be a list, not one string",
            hint="pass a list of AGE-SECRET-KEY-... strings or identity objects",
        )
    return [parse_identity(i) if isinstance(i, str) else i for i in identities]


def decrypt(
    src: BinaryIO,
    dst: BinaryIO,
    identities: Sequence[str | Identity],
    *,
    armored: bool | None = None,
) -> None:
    """Decrypt the age file in ``src`` (binary or ASCII-armored, detected) into ``dst``.

    Streaming contract: each 64 KiB chunk is written to ``dst`` as soon as it is
    authenticated, so ``dst`` may hold a verified prefix when a later chunk
    fails. On any error the caller MUST discard ``dst``; :func:`decrypt_file`
    does this for files. ``armored`` forces (True) or forbids (False) armor.

    Raises NoIdentityMatchedError, HeaderError, HeaderMacError, PayloadError or
    ArmorError (all subclasses of exchange.errors.CryptoError).
    """
    candidates = _as_identities(identities)
    if armored is None:
        stream = open_maybe_armored(src)
    else:
        stream = ArmorReader(src) if armored else src  # type: ignore[assignment]
    reader = Reader(stream)
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
    decrypt_payload(reader, dst, file_key)


def _write_atomically(dst_path: str | os.PathLike[str], write) -> None:
    target = Path(dst_path)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        os.unlink(tmp_name)
        raise


def decrypt_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    identities: Sequence[str | Identity],
) -> None:
    """Decrypt ``src_path`` into ``dst_path`` atomically: a temp file in the same
    directory is renamed over ``dst_path`` only after the whole file verified."""
    with open(src_path, "rb") as src:
        _write_atomically(dst_path, lambda out: decrypt(src, out, identities))


def encrypt_file(
    src_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    recipients: Sequence[str],
    *,
    armor: bool = False,
) -> None:
    """Encrypt ``src_path`` into ``dst_path`` atomically (``armor=True`` for ``age -a``)."""

    def write(out: BinaryIO) -> None:
        if armor:
            with ArmoredWriter(out) as armored:
                encrypt(src, armored, recipients)  # type: ignore[arg-type]
        else:
            encrypt(src, out, recipients)

    with open(src_path, "rb") as src:
        _write_atomically(dst_path, write)
