"""`gcmx publish`, `gcmx pull`, `gcmx receipts`, `gcmx verify`: the protocol by hand."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.audit.alarms import alarms_since, audit_seq
from exchange.cli.output import StageBar, counted, emit_json, finish, json_option, quiet_option
from exchange.errors import ContractError
from exchange.protocol.node import Node
from exchange.protocol.outbound import ContractBreach


def _node(party: str | None) -> Node:
    from exchange.settings import load_settings

    settings = load_settings(**({"party": party} if party else {}))
    return Node.from_settings(settings)


party_option = click.option("--party", help="This office's ISO alpha-3 code [default: GCMX_PARTY].")


def _partner_code(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A partner is an ISO alpha-3 code: it names buckets and local folders."""
    if value is None:
        return None
    if len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise click.BadParameter(f"{value!r} is not an ISO alpha-3 code such as THA")
    return value.upper()


def partner_option(help_text: str, old: str | None = None):
    """``--partner CODE``, the one name of the other party (``old`` stays as a hidden alias)."""
    def decorate(func):
        func = click.option("--partner", "partner", metavar="CODE", callback=_partner_code,
                            help=f"{help_text} [required]")(func)
        if old:
            func = click.option(old, "old_partner", callback=_partner_code, hidden=True)(func)
        return func
    return decorate


def _the_partner(partner: str | None, old_partner: str | None = None) -> str:
    if partner and old_partner and partner != old_partner:
        raise click.UsageError("give the partner once, with --partner")
    if not (partner or old_partner):
        raise click.UsageError("Missing option '--partner' (the partner's ISO alpha-3 code, e.g. THA).")
    return partner or old_partner or ""


def _failed_check_hint(exc: ContractBreach, file: Path, contract_id: str) -> ContractBreach:
    """Add to a breach which contract the file's columns match better, if one does."""
    from exchange.cli.contract import better_contract
    from exchange.contract.model import load_contract
    from exchange.settings import load_settings

    settings = load_settings()
    try:
        contract = load_contract(contract_id, settings.contracts, settings.expectations)
    except ContractError:
        return exc
    better = better_contract(file, contract, (settings.contracts, settings.expectations))
    if better:
        exc.hint = f"{exc.hint}; the file's columns match contract {better} better"
    return exc


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--contract", "contract_id", required=True, help="Contract id, e.g. workers_deployed.khm-tha.")
@click.option("--period", required=True, help="Reporting period, e.g. 2026-10 (monthly) or 2026-Q3.")
@party_option
@quiet_option
@json_option
def publish(file: Path, contract_id: str, period: str, party: str | None, quiet: bool, as_json: bool) -> None:
    """Validate, protect, encrypt, sign and publish FILE to the contract's partner.

    Safe to re-run: the same input for the same period resumes or confirms the same exchange.
    A file that breaks its contract is quarantined, nothing is sent, and the command exits 1
    saying in sentences what broke the contract. Exit code 1 too if the run raised an alarm
    (an object in the bucket this party did not write), though it published.
    """
    from exchange.protocol.outbound import publish as run_publish

    node = _node(party)
    before = audit_seq(node)
    try:
        with StageBar("upload", quiet=quiet or as_json) as bar:
            result = run_publish(node, file, contract_id, period, progress=bar.update)
    except ContractBreach as exc:
        raise _failed_check_hint(exc, file, contract_id) from None
    alarms = _show_alarms(node, before)
    passed = result.validation.get("success", True)
    if as_json:
        emit_json({"ok": not alarms, "created_now": result.created_now, "exchange_id": result.exchange_id,
                   "bucket": result.bucket, "prefix": result.prefix, "rows": result.rows,
                   "revision": result.revision, "sequence": result.sequence,
                   "validation": result.validation, "alarms": alarms})
    else:
        state = "published" if result.created_now else "already published (no change)"
        click.echo(f"{state}: {result.exchange_id}\n  s3://{result.bucket}/{result.prefix}/\n"
                   f"  {counted(result.rows, 'row')} · revision {result.revision} · sequence {result.sequence}\n"
                   f"  validation {'passed' if passed else 'FAILED'}")
    finish(bool(alarms))


@click.command()
@partner_option("Partner whose bucket to read, e.g. THA.", old="--from")
@party_option
@quiet_option
@json_option
def pull(partner: str | None, old_partner: str | None, party: str | None, quiet: bool, as_json: bool) -> None:
    """Fetch, verify, decrypt, re-validate and land every new exchange from PARTNER.

    Each exchange is answered with a signed receipt (accepted or rejected). The partner's
    index of exchanges and audit checkpoint are checked too. Exit code 1 if any exchange was
    rejected or the run raised an alarm (a receipt slot taken, an exchange withheld, deleted
    or replaced, a partner checkpoint going backwards or forking).
    """
    from exchange.protocol.inbound import pull as run_pull

    code = _the_partner(partner, old_partner)
    node = _node(party)
    before = audit_seq(node)
    with StageBar("download", quiet=quiet or as_json) as bar:
        results = run_pull(node, code, progress=bar.update)
    alarms = _show_alarms(node, before)
    rejected = any(r.status == "rejected" for r in results)
    if as_json:
        emit_json({"ok": not (alarms or rejected), "partner": code, "alarms": alarms, "exchanges": [
            {"status": r.status, "dataset": r.dataset, "period": r.period, "exchange_id": r.exchange_id,
             "rows": r.rows if r.status == "landed" else None,
             "path": str(r.path) if r.status == "landed" else None,
             "reason": None if r.status == "landed" else _printable(r.reason)} for r in results]})
        finish(bool(alarms or rejected))
    if not results:
        click.echo(f"nothing new from {code}")
    for r in results:
        detail = f"{counted(r.rows, 'row')} → {r.path}" if r.status == "landed" else _printable(r.reason)
        click.echo(f"{r.status:8} {r.dataset} {r.period} {r.exchange_id}  {detail}")
    finish(bool(alarms or rejected))


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
@partner_option("Partner whose receipts to collect, e.g. THA.", old="--from")
@party_option
@json_option
def receipts(partner: str | None, old_partner: str | None, party: str | None, as_json: bool) -> None:
    """Collect and verify receipts from PARTNER; an exchange is delivered only with one.

    Exit code 1 if a receipt failed verification or the run raised an alarm.
    """
    from exchange.protocol.receipts import collect_receipts

    code = _the_partner(partner, old_partner)
    node = _node(party)
    before = audit_seq(node)
    found = collect_receipts(node, code)
    alarms = _show_alarms(node, before)
    invalid = any(r.status == "invalid" for r in found)
    if as_json:
        emit_json({"ok": not (alarms or invalid), "partner": code, "alarms": alarms,
                   "receipts": [{"status": r.status, "exchange_id": r.exchange_id,
                                 "reason": _printable(r.reason)} for r in found]})
        finish(bool(alarms or invalid))
    if not found:
        click.echo(f"no new receipts from {code}")
    for r in found:
        click.echo(f"{r.status:8} {r.exchange_id}  {_printable(r.reason)}")
    finish(bool(alarms or invalid))


@click.command("verify")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@partner_option("Partner that sent the exchange, e.g. THA; its key must be in the keyring.", old="--sender")
@click.option("--identity", "identity_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also decrypt with this age identity file and check the plaintext hash.")
@json_option
def verify_offline(path: Path, partner: str | None, old_partner: str | None, identity_file: Path | None,
                   as_json: bool) -> None:
    """Check a downloaded exchange folder offline (manifest.json, .minisig, data.parquet.age).

    Exit code 1 when a check fails (a signature that does not verify, a hash that does not
    match: the files were altered).
    """
    from exchange.protocol.offline import verify_folder
    from exchange.settings import load_settings

    code = _the_partner(partner, old_partner)
    report = verify_folder(path, code, load_settings().keyring_dir, identity_file)
    if as_json:
        emit_json({"ok": True, **report})
        return
    click.echo(f"exchange {report['exchange_id']} from {code}: signature valid, ciphertext SHA-256 matches"
               + (", plaintext SHA-256 matches" if "plaintext_sha256" in report else ""))
    click.echo(f"  trusted comment: {report['trusted_comment']}")


COMMANDS = [publish, pull, receipts, verify_offline]
