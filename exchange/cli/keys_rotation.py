"""`gcmx keys rotate | revoke | publish | history`: a party's keys over time."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.contract.agreement import parties
from exchange.contract.model import all_contracts
from exchange.crypto.key_history import load_history
from exchange.crypto.keys import party_code, revocation_secret_path
from exchange.errors import ConfigError, StoreError
from exchange.protocol.key_rotation import (
    KEY_REVOKED,
    KEY_ROTATED,
    audit_own,
    publish_statements,
    revoke_key,
    rotate_keys,
)
from exchange.protocol.node import Node
from exchange.settings import load_settings

_PARTY_HELP = "ISO alpha-3 code of the party [default: GCMX_PARTY]."


def _node(party: str | None) -> Node:
    settings = load_settings(party=party_code(party)) if party else load_settings()
    return Node.from_settings(settings)


def partners(node: Node) -> list[str]:
    """Every other party of a contract naming this party, in force or not: a revocation can take a
    contract out of force, and the partner must still learn of it."""
    named = [parties(c) for c in all_contracts(node.settings.contracts, node.settings.expectations)]
    return sorted({p for group in named if node.party in group for p in group} - {node.party})


def _publish(node: Node, partner_codes: list[str]) -> None:
    """Publish every kept statement to each partner's bucket; say what happened."""
    try:
        published = publish_statements(node, partner_codes)
    except StoreError as exc:
        click.echo(f"not published yet ({exc.message}); run `gcmx keys publish` when the store is back", err=True)
        raise SystemExit(1) from None
    taken = [f"s3://{b}/{p.key}" for p in published for b in p.taken]
    replaced = [f"s3://{b}/{p.key}" for p in published for b in p.replaced]
    click.echo(f"published to {len(partner_codes)} partner bucket(s): {', '.join(partner_codes) or 'none'}")
    if replaced:
        click.echo("these keys held other bytes (planted? check who can write the bucket); replaced with the "
                   "signed statement: " + ", ".join(replaced), err=True)
    if taken:
        click.echo("these keys already hold other bytes (planted?): " + ", ".join(taken), err=True)
        raise SystemExit(1)


@click.command("rotate")
@click.option("--party", help=_PARTY_HELP)
def rotate(party: str | None) -> None:
    """Replace this party's age and minisign keys by new ones.

    Writes a rotation statement signed by the old AND the new signing key into each partner
    bucket (partners pick it up on their next pull and trust the new key because the old one
    signed it). The old age key moves to retired/ so older exchanges still decrypt; agreements
    stay in force. Partners need nothing from you out of band.
    """
    node = _node(party)
    partner_codes = partners(node)  # before the keys change: contracts in force now
    objects = rotate_keys(node.party, node.settings.identity_dir, node.settings.keyring_dir)
    audit_own(node, KEY_ROTATED, objects)
    history = load_history(node.party, node.settings.identity_dir)
    click.echo(f"rotated {node.party}: minisign key {history.current('minisign').key_id}, "
               f"age key {history.current('age').key_id}")
    _publish(node, partner_codes)


@click.command("revoke")
@click.argument("key_id")
@click.option("--reason", required=True, help="Why (e.g. 'laptop stolen'); partners see it.")
@click.option("--revocation-key", "revocation_key", type=click.Path(dir_okay=False, path_type=Path),
              help="The offline revocation key [default: GCMX_IDENTITY/PARTY.revocation.key]; "
                   "password from GCMX_REVOCATION_PASSWORD if it has one.")
@click.option("--party", help=_PARTY_HELP)
def revoke(key_id: str, reason: str, revocation_key: Path | None, party: str | None) -> None:
    """Revoke KEY_ID (a minisign or age key id of this party) from now.

    Signed with the offline revocation key; partners refuse anything signed with the key from
    now on. When a signing key is stolen: `gcmx keys rotate` first, then revoke the old key
    (the revocation names the new key as its successor).
    """
    node = _node(party)
    secret = revocation_key or revocation_secret_path(node.party, node.settings.identity_dir)
    objects = revoke_key(node.party, key_id, reason, secret, node.settings.identity_dir,
                         node.settings.keyring_dir)
    audit_own(node, KEY_REVOKED, objects)
    click.echo(f"revoked {node.party} key {key_id}: {reason}")
    _publish(node, partners(node))


@click.command("publish")
@click.option("--party", help=_PARTY_HELP)
def publish(party: str | None) -> None:
    """Publish this party's rotation and revocation statements again (after a store outage)."""
    node = _node(party)
    _publish(node, partners(node))


@click.command("history")
@click.option("--party", help=_PARTY_HELP)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Keyring or identity folder [default: GCMX_KEYRING].")
def history(party: str | None, directory: Path | None) -> None:
    """Every key of a party with its validity window (never a secret)."""
    settings = load_settings()
    code = party_code(party) if party else settings.require_party()
    directory = directory or settings.keyring_dir
    records = load_history(code, directory).keys
    if not records:
        raise ConfigError(f"no keys of {code} in {directory}",
                          hint=f"ask {code} for its .pub files (the key ceremony) or give --dir")
    for record in records:
        state = f"revoked {record.revoked_at} ({record.reason})" if record.revoked_at else (
            "current" if record.current else "retired")
        click.echo(f"{record.kind:10} {record.key_id:16}  {record.valid_from or 'beginning':24} .. "
                   f"{record.valid_until or 'now':24} {state}")


COMMANDS = [rotate, revoke, publish, history]
