"""`gcmx publish`, `gcmx pull`, `gcmx receipts`, `gcmx verify`: the protocol by hand."""

from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from exchange.audit.alarms import alarms_since, audit_seq
from exchange.protocol.node import Node


def _node(party: str | None) -> Node:
    from exchange.settings import load_settings

    settings = load_settings(**({"party": party} if party else {}))
    return Node.from_settings(settings)


party_option = click.option("--party", help="this office's ISO alpha-3 code (default: GCMX_PARTY)")


def _partner_code(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A partner is an ISO alpha-3 code: it names buckets and local folders."""
    if len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise click.BadParameter(f"{value!r} is not an ISO alpha-3 code such as THA")
    return value.upper()


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--contract", "contract_id", required=True, help="contract id, e.g. workers_deployed.khm-tha")
@click.option("--period", required=True, help="reporting period, e.g. 2026-10 (monthly) or 2026-Q3")
@party_option
def publish(file: Path, contract_id: str, period: str, party: str | None) -> None:
    """Validate, protect, encrypt, sign and publish FILE to the contract's partner.

    Safe to re-run: the same input for the same period resumes or confirms the same exchange.
    A file that breaks its contract is quarantined and nothing is sent. Exit code 1 if the run
    raised an alarm (an object in the bucket this party did not write), though it published.
    """
    from exchange.protocol.outbound import publish as run_publish

    node = _node(party)
    before = audit_seq(node)
    with tqdm(unit="B", unit_scale=True, desc="encrypt+upload", leave=False) as bar:
        result = run_publish(node, file, contract_id, period, progress=bar.update)
    state = "published" if result.created_now else "already published (no change)"
    click.echo(f"{state}: {result.exchange_id}\n  s3://{result.bucket}/{result.prefix}/\n"
               f"  rows {result.rows:,} · revision {result.revision} · sequence {result.sequence}\n"
               f"  validation {'passed' if result.validation.get('success', True) else 'FAILED'}")
    raise SystemExit(1 if _show_alarms(node, before) else 0)


@click.command()
@click.option("--from", "partner", required=True, callback=_partner_code,
              help="partner whose bucket to read, e.g. THA")
@party_option
def pull(partner: str, party: str | None) -> None:
    """Fetch, verify, decrypt, re-validate and land every new exchange from PARTNER.

    Each exchange is answered with a signed receipt (accepted or rejected). The partner's
    index of exchanges and audit checkpoint are checked too. Exit code 1 if any exchange was
    rejected or the run raised an alarm (a receipt slot taken, an exchange withheld, deleted
    or replaced, a partner checkpoint going backwards or forking).
    """
    from exchange.protocol.inbound import pull as run_pull

    node = _node(party)
    before = audit_seq(node)
    with tqdm(unit="B", unit_scale=True, desc="download+decrypt", leave=False) as bar:
        results = run_pull(node, partner.upper(), progress=bar.update)
    if not results:
        click.echo(f"nothing new from {partner.upper()}")
    for r in results:
        detail = f"{r.rows:,} rows → {r.path}" if r.status == "landed" else _printable(r.reason)
        click.echo(f"{r.status:8} {r.dataset} {r.period} {r.exchange_id}  {detail}")
    alarms = _show_alarms(node, before)
    raise SystemExit(1 if alarms or any(r.status == "rejected" for r in results) else 0)


def _printable(text) -> str:
    """Text that came from a bucket, shown without the control characters it may hold (a planted
    key with escape sequences or carriage returns could otherwise rewrite the terminal)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _show_alarms(node: Node, before: int) -> list[dict]:
    alarms = alarms_since(node, before)
    for alarm in alarms:
        click.secho(f"ALARM    {alarm.get('kind')}  {_printable(alarm.get('reason'))}", fg="red", err=True)
    return alarms


@click.command()
@click.option("--from", "partner", required=True, callback=_partner_code,
              help="partner whose receipts to collect, e.g. THA")
@party_option
def receipts(partner: str, party: str | None) -> None:
    """Collect and verify receipts from PARTNER; an exchange is delivered only with one.

    Exit code 1 if a receipt failed verification or the run raised an alarm.
    """
    from exchange.protocol.receipts import collect_receipts

    node = _node(party)
    before = audit_seq(node)
    found = collect_receipts(node, partner.upper())
    if not found:
        click.echo(f"no new receipts from {partner.upper()}")
    for r in found:
        click.echo(f"{r.status:8} {r.exchange_id}  {_printable(r.reason)}")
    alarms = _show_alarms(node, before)
    raise SystemExit(1 if alarms or any(r.status == "invalid" for r in found) else 0)


@click.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sender", required=True, help="party that sent the exchange (its key must be in the keyring)")
@click.option("--identity", "identity_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="also decrypt with this age identity file and check the plaintext hash")
def verify_offline(path: Path, sender: str, identity_file: Path | None) -> None:
    """Check a downloaded exchange folder offline (manifest.json, .minisig, data.parquet.age)."""
    from exchange.protocol.offline import verify_folder
    from exchange.settings import load_settings

    report = verify_folder(path, sender.upper(), load_settings().keyring_dir, identity_file)
    click.echo(json.dumps(report, indent=2))


COMMANDS = [publish, pull, receipts, verify_offline]
