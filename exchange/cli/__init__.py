"""The ``gcmx`` command: one entry point for data officers, partners and auditors.

Each concern keeps its subcommands in its own module here; this file only wires them.
Every command ends through :func:`exit_code` (exchange/cli/output.py), the one mapping
to exit codes: 0 ok, 1 a check failed, 2 usage/configuration/terminal error, 75 transient.
An error is printed as one clear line (what failed, what to do), never a traceback; with
``--json`` the error is also the command's one JSON document on stdout.
"""

from __future__ import annotations

import sys

import click

from exchange import __version__
from exchange.cli import audit, contract, exchange, keys, partner, protect, report, retention
from exchange.cli.output import (
    CHECK_FAILED,
    OK,
    TERMINAL,
    TRANSIENT,
    emit_json,
    error_document,
    exit_code,
)
from exchange.errors import GcmxError

__all__ = ["CHECK_FAILED", "OK", "TERMINAL", "TRANSIENT", "exit_code", "main"]


class _Group(click.Group):
    """A click group that turns every failure into one readable line and its exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["gcmx_json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GcmxError as exc:
            self._fail(ctx, exc, exc.message, exc.hint)
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:
            if not ctx.meta.get("gcmx_json"):
                raise  # click prints usage and the message, exit 2
            self._fail(ctx, exc, exc.format_message(), "see --help")
        except (SystemExit, KeyboardInterrupt, click.exceptions.Abort):
            raise
        except OSError as exc:  # a local file or folder the command could not use
            where = f" {exc.filename}" if exc.filename else ""
            self._fail(ctx, exc, f"cannot use{where}: {exc.strerror or type(exc).__name__}",
                       "check the path and its permissions")
        except Exception as exc:  # a bug or an unforeseen library error: still no traceback
            self._fail(ctx, exc, f"unexpected failure ({type(exc).__name__})",
                       "this is a bug in gcmx; report the command that failed")

    @staticmethod
    def _fail(ctx: click.Context, exc: BaseException, message: str, hint: str | None) -> None:
        code = exit_code(exc) if isinstance(exc, GcmxError) else TERMINAL
        if ctx.meta.get("gcmx_json"):
            emit_json(error_document(exc, code))
        click.secho(f"gcmx: error: {message}", fg="red", err=True)
        if hint:
            click.echo(f"gcmx: hint: {hint}", err=True)
        sys.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gcmx")
def main() -> None:
    """Exchange migration data safely with partner countries (GCM objectives 1, 11, 23).

    Configuration comes from GCMX_* environment variables (GCMX_PARTY, GCMX_HOME,
    GCMX_KEYRING, GCMX_IDENTITY, GCMX_S3_ENDPOINT, ...); see the README. Commands that
    report something take --json (one JSON document on stdout, nothing else there).

    \b
    Exit codes: the same for every command
      0   done; every check passed
      1   a check failed: a validation breach, a tampered file or an
          invalid signature, a rejected exchange, an invalid receipt, an
          alarm, an audit log that does not verify, a breaking change
      2   usage, configuration or terminal error: fix what the error and
          its hint say, then run it again
      75  transient: the store is unreachable or busy; retry later
    """


for _module in (keys, partner, contract, protect, exchange, audit, report, retention):
    for _command in _module.COMMANDS:
        main.add_command(_command)
