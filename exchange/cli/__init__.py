"""The ``gcmx`` command: one entry point for data officers, partners and auditors.

Each concern keeps its subcommands in its own module here; this file only wires them.
Errors of the exchange are printed as one clear line (what failed, what to do) and mapped
to an exit code here, in :func:`exit_code`, the one place that does so: 2 for terminal and
75 (EX_TEMPFAIL) for transient failures; never a traceback. Commands that find something
(an alarm, a rejected exchange, an invalid receipt, a failed check) exit with 1.
"""

from __future__ import annotations

import sys

import click

from exchange import __version__
from exchange.cli import audit, contract, exchange, keys, partner, protect, report
from exchange.errors import GcmxError

FINDING, TERMINAL, TRANSIENT = 1, 2, 75


def exit_code(exc: GcmxError) -> int:
    """The exit code of a failed command: TRANSIENT (retry later) or TERMINAL (fix, then re-run)."""
    return TRANSIENT if exc.transient else TERMINAL


class _Group(click.Group):
    """A click group that turns exchange errors into one readable line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GcmxError as exc:
            click.secho(f"gcmx: error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"gcmx: hint: {exc.hint}", err=True)
            sys.exit(exit_code(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gcmx")
def main() -> None:
    """Exchange migration data safely with partner countries (GCM objectives 1, 11, 23).

    Configuration comes from GCMX_* environment variables (GCMX_PARTY, GCMX_HOME,
    GCMX_KEYRING, GCMX_IDENTITY, GCMX_S3_ENDPOINT, ...); see the README.

    \b
    Exit codes:
      0   done, nothing to report
      1   done, with findings: an alarm, a rejected exchange, an invalid
          receipt or a failed check (see the output and the audit log)
      2   failed, and a retry will not help: fix what the error and its
          hint say (a bad signature, a contract breach, a missing key,
          access denied), then run it again
      75  failed for now (the store is unreachable or busy): retry later
    """


for _module in (keys, partner, contract, protect, exchange, audit, report):
    for _command in _module.COMMANDS:
        main.add_command(_command)
