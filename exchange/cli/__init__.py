"""The ``gcmx`` command: one entry point for data officers, partners and auditors.

Each concern keeps its subcommands in its own module here; this file only wires them.
Errors of the exchange are printed as one clear line (what failed, what to do) with
exit code 2 for terminal and 75 (EX_TEMPFAIL) for transient failures; never a traceback.
"""

from __future__ import annotations

import sys

import click

from exchange import __version__
from exchange.cli import audit, contract, exchange, keys, partner, protect, report
from exchange.errors import GcmxError


class _Group(click.Group):
    """A click group that turns exchange errors into one readable line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GcmxError as exc:
            click.secho(f"gcmx: error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"gcmx: hint: {exc.hint}", err=True)
            sys.exit(75 if exc.transient else 2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gcmx")
def main() -> None:
    """Exchange migration data safely with partner countries (GCM objectives 1, 11, 23).

    Configuration comes from GCMX_* environment variables (GCMX_PARTY, GCMX_HOME,
    GCMX_KEYRING, GCMX_IDENTITY, GCMX_S3_ENDPOINT, ...); see the README.
    """


for _module in (keys, partner, contract, protect, exchange, audit, report):
    for _command in _module.COMMANDS:
        main.add_command(_command)
