"""Offline check of an exchange folder downloaded with any S3 client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from exchange.crypto import age
from exchange.crypto.keys import load_public_keys
from exchange.errors import NotFound, ProtocolError, SignatureError
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import DATA, MANIFEST, SIGNATURE
from exchange.storage.streams import HashingWriter, file_sha256


def verify_folder(folder: Path, sender: str, keyring_dir: Path, identity_file: Path | None = None) -> dict:
    """Verify the signature (with ``sender``'s key from ``keyring_dir``), the ciphertext hash and
    (with an identity) the plaintext hash.

    Raises a typed error at the first failure; returns what was checked.
    """
    missing = [n for n in (MANIFEST, SIGNATURE, DATA) if not (folder / n).is_file()]
    if missing:
        raise NotFound(f"{folder}: {', '.join(missing)} missing",
                       hint=f"download {MANIFEST}, {SIGNATURE} and {DATA} of the exchange")
    body = (folder / MANIFEST).read_bytes()
    signature = (folder / SIGNATURE).read_bytes()
    public = load_public_keys(sender, keyring_dir).minisign  # every key of the sender's history
    comment, signer = public.verify_signer(body, signature, str(folder / SIGNATURE))
    manifest = Manifest.from_json(body, str(folder / MANIFEST))
    if comment != manifest.comment() or manifest.sender != sender:
        raise ProtocolError(f"{folder}: signature or sender does not match the manifest",
                            hint="the manifest was moved or altered")
    refusal = signer.refusal(manifest.created)
    if refusal:
        raise SignatureError(f"{folder / SIGNATURE}: {refusal}",
                             hint=f"the key was not valid when the manifest says it was made; ask {sender}")
    cipher_sha = file_sha256(folder / DATA)
    if cipher_sha != manifest.ciphertext.sha256:
        raise ProtocolError(f"{folder / DATA}: SHA-256 does not match the manifest",
                            hint="download it again; the object may be incomplete")
    checked = {"exchange_id": manifest.exchange_id, "signature": "valid", "trusted_comment": comment,
               "key_id": signer.key_id, "key_window": f"{signer.valid_from or '-'} .. {signer.valid_until or '-'}",
               "ciphertext_sha256": "matches"}
    if identity_file:
        identities = age.read_identity_file(identity_file.read_text())
        with (folder / DATA).open("rb") as src, open(os.devnull, "wb") as sink:
            plain = HashingWriter(sink)
            shutil.copyfileobj(age.decryptor(src, identities), plain, 1 << 20)
        if plain.hash.hexdigest() != manifest.plaintext.sha256:
            raise ProtocolError(f"{folder / DATA}: plaintext SHA-256 does not match the manifest",
                                hint="the sender published inconsistent data; ask it to republish")
        checked["plaintext_sha256"] = "matches"
    return checked
