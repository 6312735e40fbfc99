"""`gcmx report`: the auditor's self-contained HTML report of one party's exchanges."""

from __future__ import annotations

from pathlib import Path

import click

from exchange.cli.output import counted, finish
from exchange.report import default_output, report_html, write_html
from exchange.settings import load_settings


@click.command("report")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write [default: GCMX_HOME/reports/{PARTY}-report.html].",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="The party's node folder [default: GCMX_HOME].",
)
@click.option("--party", help="Whose exchanges to report, ISO alpha-3 [default: GCMX_PARTY].")
def report(out: Path | None, home: Path | None, party: str | None) -> None:
    """Write one HTML file of every exchange, receipt, validation and the audit chain verdict.

    The file opens offline (no script, font or image from anywhere), prints to PDF and
    holds counts, ids and hashes only, never a record value. The audit log is verified
    against the party's latest local signed checkpoint when there is one.

    Exit 0 when the audit chain is intact, 1 when the report was written but the chain
    failed verification (the report shows the problems).
    """
    overrides = {k: v for k, v in (("home", home), ("party", party)) if v}
    settings = load_settings(**overrides)
    code = settings.require_party()
    html, data = report_html(settings.home, code, (settings.keyring_dir, settings.identity_dir))
    path = write_html(html, out or default_output(settings))
    verdict = data["audit"]["verdict"]
    totals = data["totals"]
    click.echo(f"report: {path}")
    click.echo(
        f"  {code}: {totals['sent']} sent ({totals['delivered']} delivered), {totals['received']} received "
        f"({totals['landed']} landed), {totals['rejected_by_partner'] + totals['rejected_by_us']} rejected, "
        f"{totals['blocked']} not sent"
    )
    if verdict["ok"]:
        click.secho(f"  audit chain intact: {verdict['entries']} entries", fg="green")
    else:
        click.secho(f"  audit chain FAILED verification: {counted(len(verdict['problems']), 'problem')}, "
                    "see the report", fg="red", err=True)
    finish(not verdict["ok"])


COMMANDS: list[click.Command] = [report]
