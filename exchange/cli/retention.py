"""`gcmx retention apply`: delete what the agreed retention no longer allows to keep, and say so."""

from __future__ import annotations

import click

from exchange.cli.output import CHECK_FAILED, OK, TRANSIENT, emit_json, json_option, quiet_option


@click.group("retention")
def retention_group() -> None:
    """Delete exchanges whose agreed retention ended, with signed deletion statements."""


@retention_group.command("apply")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted; change nothing.")
@click.option("--party", help="This office's ISO alpha-3 code [default: GCMX_PARTY].")
@quiet_option
@json_option
def apply(dry_run: bool, party: str | None, quiet: bool, as_json: bool) -> None:
    """Delete every exchange whose retention (stated in its contract) has ended.

    \b
    As recipient: the landed copy and every quarantine copy of the exchange.
    As sender:    the exchange's objects in the outbound bucket (data,
                  manifest, signature); the local record of hashes stays.
    Each deletion is signed into a deletion statement, kept in the home
    (retention/deleted/), recorded in the audit log and put in this party's
    outbound bucket (deletions/); the partners' statements about exchanges
    this party sent are collected and verified. Nothing whose retention has
    not ended is touched. Safe to re-run: an interrupted run is finished by
    the next, and no statement is made twice.

    \b
    Exit codes:
      0   done (or nothing due)
      1   a check failed: a partner's deletion statement did not verify, a
          partner's statement is overdue (a week after the retention ended),
          an exchange's retention cannot be computed (contract not held), or
          this machine's clock and the store's are more than an hour apart
      2   usage or configuration error
      75  the store was unreachable: some deletions wait for the next run
    """
    from exchange.cli.exchange import _node
    from exchange.protocol.retention import apply_retention

    node = _node(party)
    report = apply_retention(node, dry_run=dry_run,
                             progress=None if (quiet or as_json) else lambda line: click.echo(line, err=True))
    code = TRANSIENT if report.transient else CHECK_FAILED if report.check_failed else OK
    if as_json:
        emit_json({"ok": code == OK, **report.to_dict()})
        raise SystemExit(code)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"retention at {report.now}{' (dry run: nothing changed)' if dry_run else ''}")
    for row in report.deleted:
        click.echo(f"{verb:12} {row['role']:9} {row['dataset']} {row['period']} {row['exchange_id']}  "
                   f"(retention ended {row['retention_ended']})")
    for row in report.quarantines_deleted:
        click.echo(f"{verb:12} {'rejected':9} {row['dataset']} {row['period']} {row['exchange_id']}  "
                   f"(quarantine copy {row['folder']}, retention ended {row['retention_ended']})")
    for row in report.overdue:
        click.echo(f"{'OVERDUE':12} {row.get('exchange_id', row.get('partner'))}  {row['reason']}")
    for row in report.unconfirmed:
        state = "UNCONFIRMED" if row["overdue"] else "awaiting"
        click.echo(f"{state:12} {row['partner']} has not yet confirmed deleting {row['exchange_id']}")
    for row in report.confirmed:
        click.echo(f"{'confirmed':12} {row['exchange_id']} deleted by the partner at {row['deleted']}")
    for row in report.invalid:
        click.echo(f"{'INVALID':12} {row['exchange_id']}  {row['reason']}")
    for row in report.unknown:
        click.echo(f"{'UNKNOWN':12} {row['exchange_id']}  {row['reason']}")
    if report.clock_skew:
        click.echo(f"{'CLOCK':12} {report.clock_skew}")
    if report.rotation_due:
        due = report.rotation_due
        click.echo(f"{'ROTATE':12} age key {due['key_id']} in use since {due['since']}, longer than the "
                   f"{due['retention']} retention of {due['contract']}: run `gcmx keys rotate` so that expired "
                   "exchanges can be crypto-shredded")
    click.echo(f"kept: {report.kept} exchange(s) within retention"
               + (f"; the next retention ends {report.next_end}" if report.next_end else ""))
    raise SystemExit(code)


COMMANDS: list[click.Command] = [retention_group]
