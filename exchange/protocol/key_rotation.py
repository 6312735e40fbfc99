"""This party's side of key rotation and revocation: make the statement, change the keys, publish.

``rotate_keys``: a new age identity and minisign key; a :class:`Rotation` signed by the old and
the new signing key; the old age identity moved to ``retired/{PARTY}.{key_id}.age`` (old
exchanges still decrypt until ``gcmx keys destroy``), the old signing key replaced (nothing may
sign with it any more); the key history updated in the identity folder and the keyring.

``revoke_key``: a :class:`Revocation` signed with the offline revocation key, applied to the
party's own history.

Every statement is kept in ``{keyring}/statements/{PARTY}/`` and written (create-only) into each
of the party's outbound buckets under ``keys/`` by :func:`publish_statements`, which is safe to
run again (``gcmx keys publish``) when a bucket was unreachable.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from exchange.atomic import fsync_folder, write_bytes_atomic
from exchange.audit.log import AuditLog
from exchange.clock import utc_now
from exchange.crypto import age
from exchange.crypto.key_history import age_key_id, history_path, load_history, save_history
from exchange.crypto.keys import key_file_paths, retired_identity_path
from exchange.crypto.minisign import SecretKey, generate_keypair
from exchange.errors import ConfigError
from exchange.protocol.freshness import put_ours
from exchange.protocol.key_rules import apply_revocation, apply_rotation
from exchange.protocol.key_statements import Revocation, Rotation
from exchange.protocol.limits import SIGNATURE_MAX, STATEMENT_MAX
from exchange.protocol.naming import (
    KEY_STATEMENTS,
    bucket_name,
    new_signature_key,
    revocation_key,
    rotation_key,
    signature_key,
)
from exchange.protocol.node import Node

KEY_ROTATED = "key_rotated"  # audit: this party rotated its keys
KEY_REVOKED = "key_revoked"  # audit: this party revoked one of its keys
STATEMENTS = "statements"
PENDING = "rotation.pending"  # in the identity folder: a rotation staged and not finished yet
_PENDING_AGE, _PENDING_MINISIGN = "age.identity", "minisign.key"


@dataclass(frozen=True)
class Published:
    """Where one statement went: buckets written, buckets whose key held other bytes (``replaced``:
    overwritten with the statement; ``taken``: still other bytes after that)."""

    key: str
    written: tuple[str, ...]
    taken: tuple[str, ...]
    replaced: tuple[str, ...] = ()


def statements_dir(keyring_dir: Path, party: str) -> Path:
    """``{keyring}/statements/{PARTY}/``: the key statements of ``party`` this node holds."""
    return Path(keyring_dir) / STATEMENTS / party.upper()


def keep_statement(keyring_dir: Path, party: str, objects: dict[str, bytes]) -> None:
    """Keep a statement's objects (by bucket key) in ``statements/{PARTY}/`` under their names."""
    folder = statements_dir(keyring_dir, party)
    folder.mkdir(parents=True, exist_ok=True)
    for key, data in objects.items():
        write_bytes_atomic(folder / key.split("/", 1)[1], data)


def _replace_secret(path: Path, text: str) -> None:
    """Write a secret file (0600) next to ``path`` and move it into place in one rename."""
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def _retire_age_identity(party: str, identity_dir: Path, text: str, key_id: str) -> Path:
    retired = retired_identity_path(party, identity_dir, key_id)
    retired.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not retired.exists():
        fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        fsync_folder(retired.parent)
    return retired


def rotate_keys(party: str, identity_dir: Path, keyring_dir: Path, now: str | None = None) -> dict[str, bytes]:
    """Rotate ``party``'s age and minisign keys (module docstring); the statement's objects by key.

    The new secrets and the statement are first staged in ``{identity}/rotation.pending/``; the
    switch then runs from there and the statement is kept (publishable) only once the party's own
    history holds it. A rotation that was interrupted is finished by the next ``rotate``."""
    files = key_file_paths(party, identity_dir)
    pending = Path(identity_dir) / PENDING
    if pending.is_dir():
        return _finish(files.party, identity_dir, keyring_dir, pending)
    code = files.party
    history = load_history(code, identity_dir)
    signing, age_now = history.current("minisign"), history.current("age")
    if signing is None or age_now is None:
        raise ConfigError(f"{code} has no current key to rotate from in {identity_dir}",
                          hint="a revoked key cannot sign a rotation: hold a new key ceremony")
    old_secret = SecretKey.from_file(files.minisign_secret)
    old_identity_text = files.age_identity.read_text(encoding="utf-8")
    old_recipients = {age.to_recipient(i) for i in age.read_identity_file(old_identity_text)}
    if signing.key_id != old_secret.key_id or age_now.public not in old_recipients:
        raise ConfigError(f"the secret keys in {identity_dir} are not {code}'s current keys "
                          f"(minisign {signing.key_id}, age {age_now.key_id})",
                          hint="rotate with the identity folder the published keys belong to")
    post_quantum = age.parse_recipient(age_now.public).kind != "x25519"
    new_identity = age.generate_identity(post_quantum=post_quantum)
    new_secret, new_public = generate_keypair()
    new_recipient = age.to_recipient(new_identity)
    rotation = Rotation(code, now or utc_now(), signing.key_id, age_now.key_id, new_public.key_id,
                        new_public.base64, age_key_id(new_recipient), new_recipient)
    body = rotation.to_json()
    key = rotation_key(rotation.old_minisign, rotation.new_minisign)
    objects = {key: body, signature_key(key): old_secret.sign(body, rotation.comment()),
               new_signature_key(key): new_secret.sign(body, rotation.comment())}
    apply_rotation(history, rotation, objects[signature_key(key)], objects[new_signature_key(key)],
                   f"rotation {key}", rotation.rotated_at)  # checks our own statement too
    _retire_age_identity(code, identity_dir, old_identity_text, age_now.key_id)
    staging = pending.with_name(PENDING + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    _replace_secret(staging / _PENDING_AGE, age.format_identity_file(new_identity))
    new_secret.write(staging / _PENDING_MINISIGN)
    with (staging / _PENDING_MINISIGN).open("rb") as written:
        os.fsync(written.fileno())
    for name, data in objects.items():
        write_bytes_atomic(staging / name.split("/", 1)[1], data)
    fsync_folder(staging)
    os.replace(staging, pending)  # from here on the rotation happens, now or on the next run
    fsync_folder(pending.parent)
    return _finish(code, identity_dir, keyring_dir, pending)


def _finish(code: str, identity_dir: Path, keyring_dir: Path, pending: Path) -> dict[str, bytes]:
    """Switch to the keys staged in ``pending`` (each step safe to repeat), keep the statement, clear."""
    files = key_file_paths(code, identity_dir)
    [key] = [f"{KEY_STATEMENTS}/{p.name}" for p in pending.glob("rotation-*.json")]
    objects = {name: (pending / name.split("/", 1)[1]).read_bytes()
               for name in (key, signature_key(key), new_signature_key(key))}
    rotation = Rotation.from_json(objects[key], str(pending))
    history = load_history(code, identity_dir)
    if history.find(rotation.new_minisign, "minisign") is None:  # the history is saved last
        history = apply_rotation(history, rotation, objects[signature_key(key)], objects[new_signature_key(key)],
                                 f"rotation {key}", rotation.rotated_at)
        if _holds(retired_identity_path(code, identity_dir, rotation.old_age), rotation.old_age) \
                and files.age_identity.is_file():
            _scrub(files.age_identity)  # the retired copy is the one `keys destroy` shreds; no other stays
        for name, target in ((_PENDING_AGE, files.age_identity), (_PENDING_MINISIGN, files.minisign_secret)):
            _replace_secret(target, (pending / name).read_text(encoding="utf-8"))
    _save_own(history, identity_dir, keyring_dir)
    keep_statement(keyring_dir, code, objects)  # publishable only now
    _remove_pending(pending)
    return objects


def _remove_pending(pending: Path) -> None:
    """Overwrite the staged secrets (they now live in the identity files) and remove the folder."""
    for path in pending.iterdir():
        if path.name in (_PENDING_AGE, _PENDING_MINISIGN):
            _scrub(path)
        path.unlink()
    pending.rmdir()


def _holds(path: Path, key_id: str) -> bool:
    """Whether the age identity file ``path`` holds the key ``key_id``."""
    if not path.is_file():
        return False
    identities = age.read_identity_file(path.read_text(encoding="utf-8"))
    return key_id in {age_key_id(age.to_recipient(i)) for i in identities}


def _scrub(path: Path) -> None:
    """Overwrite a secret file's bytes in place with random bytes, durably (before it is replaced)."""
    with path.open("r+b", buffering=0) as handle:
        handle.write(os.urandom(max(path.stat().st_size, 1)))
        os.fsync(handle.fileno())


def _save_own(history, identity_dir: Path, keyring_dir: Path) -> None:
    """The party's own history in its identity folder, and in the keyring when it keeps a copy there."""
    save_history(history, identity_dir)
    own_copy = key_file_paths(history.party, keyring_dir)
    if own_copy.minisign_public.is_file() or history_path(history.party, keyring_dir).is_file():
        save_history(history, keyring_dir)


def revoke_key(party: str, key_id: str, reason: str, revocation_secret: Path, identity_dir: Path,
               keyring_dir: Path, now: str | None = None) -> dict[str, bytes]:
    """Revoke ``party``'s key ``key_id`` (age or minisign) from now; the statement's objects by key."""
    code = key_file_paths(party, identity_dir).party
    history = load_history(code, identity_dir)
    target = history.find(key_id)
    if target is None or target.kind == "revocation":
        known = ", ".join(f"{k.kind} {k.key_id}" for k in history.keys if k.kind != "revocation")
        raise ConfigError(f"{code} has no age or minisign key {key_id!r}",
                          hint=f"its keys: {known} (gcmx keys history)")
    if target.revoked_at:  # a rerun must not replace the published statement with a later-dated one
        raise ConfigError(f"{code}'s {target.kind} key {target.key_id} is already revoked, at {target.revoked_at} "
                          f"({target.reason})",
                          hint="nothing to do; `gcmx keys publish` publishes the revocation again if a partner "
                               "lacks it")
    if not revocation_secret.is_file():
        raise ConfigError(f"revocation key not found: expected {revocation_secret}",
                          hint="bring the offline revocation key made at `gcmx keys generate` "
                               "(--revocation-key PATH)")
    successor = next((k.key_id for k in history.of_kind("minisign")
                      if k.introduced_by.upper() == target.key_id.upper()), "")
    revocation = Revocation(code, target.key_id, target.kind, now or utc_now(), reason.strip(), successor)
    body = revocation.to_json()
    key = revocation_key(target.key_id)
    signer = SecretKey.from_file(revocation_secret, os.environ.get("GCMX_REVOCATION_PASSWORD"))
    objects = {key: body, signature_key(key): signer.sign(body, revocation.comment())}
    updated = apply_revocation(history, revocation, objects[signature_key(key)], f"revocation {key}")
    keep_statement(keyring_dir, code, objects)
    _save_own(updated, identity_dir, keyring_dir)
    return objects


def own_statements(keyring_dir: Path, party: str) -> dict[str, bytes]:
    """Every statement object of ``party`` kept locally, by bucket key (not the node's own
    notes beside them, whose names start with a dot)."""
    folder = statements_dir(keyring_dir, party)
    return {f"{KEY_STATEMENTS}/{p.name}": p.read_bytes() for p in sorted(folder.glob("*"))
            if p.is_file() and not p.name.startswith(".")}


def publish_statements(node: Node, partners: list[str]) -> list[Published]:
    """Write every kept statement of this party into its bucket towards each of ``partners``.

    A slot holding other bytes (planted there with a bucket key, e.g. to block a revocation in
    advance) is overwritten: the key belongs to this party's statements, which partners verify."""
    objects = own_statements(node.settings.keyring_dir, node.party)
    published = []
    for key, data in objects.items():
        limit = STATEMENT_MAX if key.endswith(".json") else SIGNATURE_MAX
        written, taken, replaced = [], [], []
        for partner in partners:
            bucket = bucket_name(node.party, partner)
            if put_ours(node, bucket, key, data, limit):
                written.append(bucket)
                continue
            node.store.put_bytes(bucket, key, data)
            (replaced if put_ours(node, bucket, key, data, limit) else taken).append(bucket)
        published.append(Published(key, tuple(written + replaced), tuple(taken), tuple(replaced)))
    return published


def audit_own(node: Node, event: str, objects: dict[str, bytes]) -> None:
    """One audit entry for a rotation or revocation this party made."""
    key = next(k for k in objects if k.endswith(".json"))
    data = objects[key]
    if event == KEY_ROTATED:
        rotation = Rotation.from_json(data)
        details = {"old_key_id": rotation.old_minisign, "new_key_id": rotation.new_minisign,
                   "old_age_key_id": rotation.old_age, "new_age_key_id": rotation.new_age,
                   "rotated_at": rotation.rotated_at}
    else:
        revocation = Revocation.from_json(data)
        details = {"key_id": revocation.key_id, "kind": revocation.kind, "revoked_at": revocation.revoked_at,
                   "reason": revocation.reason, "successor": revocation.successor}
    AuditLog.for_home(node.home, node.party).append(event, of=node.party, statement=key, **details)
