"""Party keys: each party's age identity and minisign key, partners' public keys, linkage keys.

File names inside a directory, for party ``KHM``:

* identity dir (``GCMX_IDENTITY``, secret, mode 0600): ``KHM.age``, ``KHM.minisign.key``,
  ``linkage/KHM-THA.key`` (the bilateral pseudonymisation secret, codes sorted)
* keyring (``GCMX_KEYRING``, public): ``THA.age.pub``, ``THA.minisign.pub``,
  ``THA.revocation.pub`` and, once THA rotated a key, ``THA.keys.json`` (its key history,
  :mod:`exchange.crypto.key_history`)
* retired age identities (after ``gcmx keys rotate``): ``retired/KHM.{key_id}.age``

``generate_party_keys`` writes the key files of a party into one directory, and the offline
revocation key (``KHM.revocation.key``/``.pub``); the three ``.pub`` files are what the party
hands to its partners.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from exchange.crypto import age
from exchange.crypto.key_history import TrustedKeys, load_history, revocation_public_path
from exchange.crypto.minisign import PublicKey, SecretKey, generate_keypair
from exchange.errors import ConfigError, GcmxError

LINKAGE_KEY_BYTES = 32


@dataclass(frozen=True)
class PartyKeyFiles:
    """Where ``generate_party_keys`` wrote a party's keys."""

    party: str
    age_identity: Path
    age_recipient: Path
    minisign_secret: Path
    minisign_public: Path


@dataclass(frozen=True)
class PublicKeys:
    """A party's public keys: encrypt to ``age_recipient`` (its current age key), verify with
    ``minisign`` (a :class:`TrustedKeys` when read from a keyring: every key of its history)."""

    party: str
    age_recipient: str
    minisign: PublicKey


@dataclass(frozen=True, repr=False)
class Identity:
    """This party's secret keys: decrypt with ``age_identities``, sign with ``signing_key``."""

    party: str
    age_identities: list[str]
    signing_key: SecretKey

    def __repr__(self) -> str:
        return (
            f"Identity(party={self.party!r}, age_identities=<{len(self.age_identities)} hidden>, "
            f"signing_key={self.signing_key!r})"
        )


def party_code(party: str) -> str:
    """Normalise and check an ISO 3166-1 alpha-3 party code."""
    code = party.strip().upper()
    if len(code) != 3 or not code.isalpha() or not code.isascii():
        raise ConfigError(f"invalid party code {party!r}", hint="use an ISO alpha-3 code such as KHM")
    return code


def key_file_paths(party: str, directory: Path) -> PartyKeyFiles:
    """The four key file paths of ``party`` inside ``directory``."""
    code = party_code(party)
    directory = Path(directory)
    return PartyKeyFiles(
        party=code,
        age_identity=directory / f"{code}.age",
        age_recipient=directory / f"{code}.age.pub",
        minisign_secret=directory / f"{code}.minisign.key",
        minisign_public=directory / f"{code}.minisign.pub",
    )


def retired_identity_path(party: str, identity_dir: Path, key_id: str) -> Path:
    """Where a rotated-out age identity of ``party`` is kept until ``gcmx keys destroy``:
    ``{identity_dir}/retired/{PARTY}.{key_id}.age`` (``key_id`` as in the manifest)."""
    if not key_id.isalnum() or not key_id.isascii():
        raise ConfigError(f"invalid key id {key_id!r}", hint="use the key id the report or manifest shows")
    return Path(identity_dir) / "retired" / f"{party_code(party)}.{key_id}.age"


def revocation_secret_path(party: str, directory: Path) -> Path:
    """``{directory}/{PARTY}.revocation.key``: the offline revocation key (kept off the server)."""
    return Path(directory) / f"{party_code(party)}.revocation.key"


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)


def generate_party_keys(party: str, out_dir: Path, classic: bool = False,
                        revocation_dir: Path | None = None) -> PartyKeyFiles:
    """Write a new age identity (post-quantum unless ``classic``) and minisign key pair, and the
    revocation key pair (``{PARTY}.revocation.key`` in ``revocation_dir``, default ``out_dir``:
    move it offline; ``{PARTY}.revocation.pub`` in ``out_dir``, for partners).

    Refuses to overwrite: if any of the files exists, nothing is written.
    """
    files = key_file_paths(party, out_dir)
    revocation_secret = revocation_secret_path(files.party, revocation_dir or out_dir)
    revocation_public = revocation_public_path(files.party, out_dir)
    existing = [
        p
        for p in (files.age_identity, files.age_recipient, files.minisign_secret, files.minisign_public,
                  revocation_secret, revocation_public)
        if p.exists()
    ]
    if existing:
        raise ConfigError(
            f"key files for {files.party} already exist: {', '.join(str(p) for p in existing)}",
            hint="keys are never overwritten; move them away first or choose another --out",
        )
    Path(out_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    identity = age.generate_identity(post_quantum=not classic)
    secret, public = generate_keypair()
    _write_secret(files.age_identity, age.format_identity_file(identity))
    files.age_recipient.write_text(age.to_recipient(identity) + "\n", encoding="utf-8")
    secret.write(files.minisign_secret)
    public.write(files.minisign_public)
    Path(revocation_secret.parent).mkdir(parents=True, exist_ok=True, mode=0o700)
    revoker, revoker_public = generate_keypair()
    revoker.write(revocation_secret)
    revoker_public.write(revocation_public)
    return files


def _missing(path: Path, what: str, hint: str) -> ConfigError:
    return ConfigError(f"{what} not found: expected {path}", hint=hint)


def load_public_keys(party: str, keyring_dir: Path) -> PublicKeys:
    """Read ``{PARTY}.age.pub`` and ``{PARTY}.minisign.pub`` from the keyring."""
    files = key_file_paths(party, keyring_dir)
    code = files.party
    hint_for = f"ask {code} for %s and put it in GCMX_KEYRING={keyring_dir}"
    if not files.age_recipient.is_file():
        raise _missing(files.age_recipient, f"age recipient of {code}", hint_for % files.age_recipient.name)
    if not files.minisign_public.is_file():
        raise _missing(
            files.minisign_public, f"minisign public key of {code}", hint_for % files.minisign_public.name
        )
    history = load_history(code, keyring_dir)
    age_now = history.current("age")
    if age_now is None:
        raise ConfigError(f"{code} has no current age key in {keyring_dir} (retired or revoked)",
                          hint=f"{code} rotates its keys (gcmx keys rotate); its rotation statement "
                               "is picked up on the next pull")
    return PublicKeys(code, age_now.public, TrustedKeys(history))


def read_age_recipient(path: Path) -> str:
    """The one age recipient (``age1...``) of an ``.age.pub`` file."""
    lines = [
        line.strip()
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if len(lines) != 1 or not lines[0].startswith("age1"):
        raise ConfigError(f"{path} must hold exactly one age recipient (age1...)",
                          hint=f"ask the key's owner for {Path(path).name} again")
    return lines[0]


def find_signing_public_key(party: str, directories: Iterable[Path]) -> PublicKey | None:
    """``party``'s minisign keys (every key of its history, :class:`TrustedKeys`) from the first of
    ``directories`` that holds them (the keyring, then this party's own identity folder), or None
    when none does."""
    for directory in directories:
        path = key_file_paths(party, directory).minisign_public
        if path.is_file():
            return TrustedKeys(load_history(party, directory))
    return None


def load_identity(party: str, identity_dir: Path, password: str | None = None) -> Identity:
    """Read this party's ``{PARTY}.age`` and ``{PARTY}.minisign.key`` from ``identity_dir``."""
    files = key_file_paths(party, identity_dir)
    code = files.party
    hint = (
        f"run `gcmx keys generate --party {code} --out {identity_dir}` or set "
        f"GCMX_IDENTITY to the directory holding {code}'s keys"
    )
    if not files.age_identity.is_file():
        raise _missing(files.age_identity, f"age identity of {code}", hint)
    if not files.minisign_secret.is_file():
        raise _missing(files.minisign_secret, f"minisign secret key of {code}", hint)
    try:
        identities = age.read_identity_file(files.age_identity.read_text(encoding="utf-8"))
    except GcmxError as exc:
        raise ConfigError(
            f"cannot read age identity {files.age_identity}: {exc.message}", hint=hint
        ) from None
    if not identities:
        raise ConfigError(f"{files.age_identity} holds no age identity", hint=hint)
    for retired in sorted((Path(identity_dir) / "retired").glob(f"{code}.*.age")):
        try:  # rotated-out keys: old exchanges encrypted to them still decrypt until destroyed
            identities += age.read_identity_file(retired.read_text(encoding="utf-8"))
        except (GcmxError, OSError) as exc:
            raise ConfigError(f"cannot read retired age identity {retired}: {getattr(exc, 'message', exc)}",
                              hint="restore it from the identity backup, or destroy it with "
                                   "`gcmx keys destroy` once nothing needs it") from None
    signing_key = SecretKey.from_file(files.minisign_secret, password)
    return Identity(code, identities, signing_key)


def linkage_key_path(party_a: str, party_b: str, identity_dir: Path) -> Path:
    """``{identity_dir}/linkage/{A}-{B}.key`` with the two codes sorted."""
    a, b = sorted((party_code(party_a), party_code(party_b)))
    if a == b:
        raise ConfigError(
            f"a linkage key needs two different parties, got {a} twice",
            hint="name this party and its partner",
        )
    return Path(identity_dir) / "linkage" / f"{a}-{b}.key"


def generate_linkage_key(party_a: str, party_b: str, identity_dir: Path) -> Path:
    """Write a new random bilateral linkage key (hex, mode 0600); never overwrites."""
    path = linkage_key_path(party_a, party_b, identity_dir)
    if path.exists():
        raise ConfigError(
            f"linkage key {path} already exists",
            hint="both parties must keep the same key; do not replace it",
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_secret(path, secrets.token_hex(LINKAGE_KEY_BYTES) + "\n")
    return path


def load_linkage_key(party_a: str, party_b: str, identity_dir: Path) -> bytes:
    """The 32-byte bilateral linkage key shared by the two parties."""
    path = linkage_key_path(party_a, party_b, identity_dir)
    if not path.is_file():
        raise _missing(
            path,
            "linkage key",
            f"one party makes it (gcmx keys linkage --partner ...) and hands it to the other "
            f"over a secure channel; put it at {path}",
        )
    text = path.read_text(encoding="utf-8").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != LINKAGE_KEY_BYTES:
        raise ConfigError(
            f"linkage key {path} is not {LINKAGE_KEY_BYTES} bytes of hex",
            hint="restore the file both parties agreed on",
        )
    return key
