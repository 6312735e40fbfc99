"""A stand-in for an age key rotation in tests of crypto-shredding: the current age identity moves to
``retired/`` (exchange.crypto.keys.retired_identity_path, mode 0600) and a new one takes its place."""

from __future__ import annotations

import os

from exchange.crypto import age
from exchange.crypto.keys import key_file_paths, retired_identity_path
from exchange.protocol.manifest import recipient_key_id


def retire_age_identity(node, post_quantum: bool = True) -> str:
    """Retire ``node``'s current age identity and make a new one; the retired key's id. The
    partner's keyring gets the new public key only if the caller copies it."""
    files = key_file_paths(node.party, node.settings.identity_dir)
    [old] = age.read_identity_file(files.age_identity.read_text(encoding="utf-8"))
    key_id = recipient_key_id(age.to_recipient(old))
    retired = retired_identity_path(node.party, node.settings.identity_dir, key_id)
    retired.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(files.age_identity.read_text(encoding="utf-8"))
    new = age.generate_identity(post_quantum=post_quantum)
    files.age_identity.write_text(age.format_identity_file(new), encoding="utf-8")
    files.age_recipient.write_text(age.to_recipient(new) + "\n", encoding="utf-8")
    return key_id
