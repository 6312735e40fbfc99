"""`gcmx keys`: make a party's key files, show its public keys, make the bilateral linkage
key and the party's own pseudonym key."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.cli import keys_destroy, keys_rotation
from exchange.crypto.key_history import revocation_public_path
from exchange.crypto.keys import (
    PublicKeys,
    generate_linkage_key,
    generate_party_keys,
    key_file_paths,
    load_public_keys,
    party_code,
    revocation_secret_path,
)
from exchange.errors import ConfigError
from exchange.settings import load_settings

_DIR = click.Path(file_okay=False, path_type=Path)
_PARTY_HELP = "ISO alpha-3 code of the party [default: GCMX_PARTY]."


def _party(party: str | None) -> str:
    return party_code(party) if party else load_settings().require_party()


@click.group("keys")
def keys_group() -> None:
    """Make and show a party's keys (age for encryption, minisign for signatures)."""


@keys_group.command("generate")
@click.option("--party", help=_PARTY_HELP)
@click.option("--out", "out_dir", type=_DIR, help="Directory for the key files [default: GCMX_IDENTITY].")
@click.option("--classic", is_flag=True, help="X25519 age key instead of post-quantum ML-KEM-768+X25519.")
@click.option("--revocation-out", "revocation_dir", type=_DIR,
              help="Directory for the offline revocation key, e.g. a USB stick [default: --out].")
def generate(party: str | None, out_dir: Path | None, classic: bool, revocation_dir: Path | None) -> None:
    """Write PARTY.age, PARTY.age.pub, PARTY.minisign.key, PARTY.minisign.pub and the
    revocation key pair PARTY.revocation.key / PARTY.revocation.pub.

    The secret files (.age, .minisign.key) are mode 0600 and must stay with this office; the
    revocation key goes offline (it only revokes keys: `gcmx keys revoke`). Hand the three
    .pub files to each partner for their keyring and compare the key ids out of band.
    Existing files are never overwritten.
    """
    code = _party(party)
    out_dir = out_dir or load_settings().identity_dir
    files = generate_party_keys(code, out_dir, classic=classic, revocation_dir=revocation_dir)
    public = load_public_keys(code, out_dir)
    revoker = revocation_secret_path(code, revocation_dir or out_dir)
    click.echo(f"secret (keep here, mode 0600): {files.age_identity}, {files.minisign_secret}")
    click.echo(f"secret (move OFFLINE now):     {revoker}")
    click.echo(f"public (give to partners):     {files.age_recipient}, {files.minisign_public}, "
               f"{revocation_public_path(code, out_dir)}")
    _print_public(public)


@keys_group.command("show")
@click.option("--party", help=_PARTY_HELP)
@click.option(
    "--dir",
    "directory",
    type=_DIR,
    help="Directory holding PARTY.age.pub and PARTY.minisign.pub "
    "[default: GCMX_IDENTITY if they are there, else GCMX_KEYRING].",
)
def show(party: str | None, directory: Path | None) -> None:
    """Print a party's public keys and key id (never a secret)."""
    code = _party(party)
    if directory is None:
        settings = load_settings()
        candidates = [settings.identity_dir, settings.keyring_dir]
        present = [d for d in candidates if key_file_paths(code, d).minisign_public.is_file()]
        if not present:
            raise ConfigError(
                f"no public keys of {code} in {candidates[0]} or {candidates[1]}",
                hint=f"generate them (gcmx keys generate --party {code}) or ask {code} for "
                f"{code}.age.pub and {code}.minisign.pub and put them in GCMX_KEYRING",
            )
        directory = present[0]
    _print_public(load_public_keys(code, directory))


@keys_group.command("linkage")
@click.option("--party", help=_PARTY_HELP)
@click.option("--partner", required=True, help="ISO alpha-3 code of the partner, e.g. THA.")
@click.option("--dir", "directory", type=_DIR, help="Identity directory [default: GCMX_IDENTITY].")
def linkage(party: str | None, partner: str, directory: Path | None) -> None:
    """Make the bilateral pseudonymisation key shared with PARTNER (linkage/A-B.key, 0600).

    One party makes it once and hands the file to the partner over a secure channel.
    """
    path = generate_linkage_key(_party(party), partner, directory or load_settings().identity_dir)
    click.echo(f"linkage key written to {path}; hand a copy to the partner over a secure channel")


@keys_group.command("pseudonym")
@click.option("--party", help=_PARTY_HELP)
@click.option("--dir", "directory", type=_DIR, help="Identity directory [default: GCMX_IDENTITY].")
def pseudonym(party: str | None, directory: Path | None) -> None:
    """Make this party's own pseudonym key (pseudonym/PARTY.key, 0600), kept from partners.

    Pseudonyms of record-level data are keyed with it unless the contract says
    linkage: withRecipient. `gcmx protect` makes it on first use; back it up with the
    identity. Never overwritten.
    """
    from exchange.protocol.protection import pseudonym_key_path, sender_pseudonym_key

    code = _party(party)
    directory = directory or load_settings().identity_dir
    path = pseudonym_key_path(code, directory)
    if path.exists():
        raise ConfigError(f"pseudonym key {path} already exists",
                          hint="keep it: a new key starts new pseudonyms")
    sender_pseudonym_key(code, directory)
    click.echo(f"pseudonym key written to {path}; keep it here and in the identity backup")


def _print_public(public: PublicKeys) -> None:
    click.echo(f"party:               {public.party}")
    click.echo(f"age recipient:       {public.age_recipient}")
    click.echo(f"minisign key id:     {public.minisign.key_id}")
    click.echo(f"minisign public key: {public.minisign.base64}")
    history = getattr(public.minisign, "history", None)
    age_now = history.current("age") if history else None
    revoker = history.current("revocation") if history else None
    if age_now:
        click.echo(f"age key id:          {age_now.key_id}")
    if revoker:
        click.echo(f"revocation key id:   {revoker.key_id}")


for _command in [*keys_rotation.COMMANDS, keys_destroy.destroy]:  # rotate, revoke, publish, history, destroy
    keys_group.add_command(_command)

COMMANDS: list[click.Command] = [keys_group]
