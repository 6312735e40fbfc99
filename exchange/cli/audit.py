"""`gcmx audit`: verify a party's hash-chained audit log offline, publish signed checkpoints."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.audit.log import (
    AuditLog,
    Checkpoint,
    LocalCheckpoint,
    latest_local_checkpoint,
    publish_checkpoint,
    read_local_checkpoint,
    verify_log,
)
from exchange.cli.output import counted, emit_json, finish, json_option
from exchange.crypto import keys
from exchange.crypto.minisign import PublicKey
from exchange.errors import ConfigError, NotFound
from exchange.protocol.node import Node
from exchange.protocol.partners import checkpoint_buckets
from exchange.settings import Settings, load_settings


@click.group("audit")
def audit() -> None:
    """Check and anchor the tamper-evident audit log (publish, fetch, receipts, key use)."""


def _public_key(settings: Settings, given: Path | None, party: str | None) -> PublicKey:
    if given:
        return PublicKey.from_file(given)
    if not party:
        raise ConfigError("cannot tell whose checkpoint this is", hint="pass --public-key FILE")
    found = keys.find_signing_public_key(party, (settings.keyring_dir, settings.identity_dir))
    if found is None:
        raise ConfigError(f"no minisign public key of {party} in {settings.keyring_dir} or "
                          f"{settings.identity_dir}", hint=f"pass --public-key with {party}'s minisign .pub file")
    return found


def _verified(settings: Settings, local: LocalCheckpoint, public_key: Path | None) -> Checkpoint:
    claimed = (local.claimed() or {}).get("party")  # only to find the key; the signature decides
    key = _public_key(settings, public_key, settings.party or (claimed if isinstance(claimed, str) else None))
    return local.verified(key)


@audit.command("verify")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Audit log to check [default: GCMX_HOME/audit/GCMX_PARTY.audit.jsonl].")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Signed checkpoint FILE.json (FILE.json.minisig beside it); also catches a cut "
                   "tail or a rewritten chain [default: the latest local checkpoint of this log, "
                   "GCMX_HOME/audit/checkpoints/latest.json, when there is one].")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The party's minisign .pub [default: from the keyring or identity folder].")
@json_option
def verify(log_path: Path | None, checkpoint: Path | None, public_key: Path | None, as_json: bool) -> None:
    """Find edited, dropped, inserted or reordered entries. Exit 0 intact, 1 tampered."""
    settings = load_settings()
    path = log_path or AuditLog.for_home(settings.home, settings.require_party()).path
    if not path.is_file():
        raise NotFound(f"audit log {path} does not exist",
                       hint="check --log, GCMX_HOME and GCMX_PARTY; a new node has no log before "
                            "its first event")
    local = read_local_checkpoint(checkpoint) if checkpoint else None
    if checkpoint is None and log_path is None:
        local = latest_local_checkpoint(AuditLog.for_home(settings.home, settings.require_party()))
    signed = _verified(settings, local, public_key) if local else None
    verdict = verify_log(path, signed)
    if as_json:
        emit_json(verdict.to_dict())
    elif verdict.ok:
        against = (f", matches signed checkpoint seq {verdict.checkpoint_seq} ({local.path})" if signed
                   else ", no signed checkpoint to check against")
        click.secho(f"audit log {path}: intact, {verdict.entries} entries, head seq {verdict.head_seq} "
                    f"sha256 {verdict.head}{against}", fg="green")
    else:
        click.secho(f"audit log {path}: {counted(len(verdict.problems), 'problem')}", fg="red", err=True)
        for problem in verdict.problems:
            click.echo(f"  - {problem}", err=True)
    finish(not verdict.ok)


@audit.command("checkpoint")
@click.option("--partner", "partners", multiple=True, metavar="PARTNER",
              help="Publish only into the bucket towards PARTNER (repeatable) "
                   "[default: every partner: the other parties of the contracts in force].")
@click.option("--to", "old_partners", multiple=True, hidden=True)
def checkpoint(partners: tuple[str, ...], old_partners: tuple[str, ...]) -> None:
    """Sign the log's head and put it in this party's outbound buckets (audit/{PARTY}/)."""
    node = Node.from_settings()
    buckets = checkpoint_buckets(node, [keys.party_code(p) for p in (*partners, *old_partners)])
    log = AuditLog.for_home(node.home, node.party)
    key = publish_checkpoint(log, node.identity.signing_key, node.store, buckets)
    click.echo(f"checkpoint {key} published to {', '.join(buckets)}; local copy in {log.checkpoints_dir}")


COMMANDS: list[click.Command] = [audit]
