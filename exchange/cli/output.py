"""What every `gcmx` command shares about its output: exit codes, `--json`, `--quiet`,
progress bars and counted nouns.

Exit codes come from one function, :func:`exit_code`, for every command:

====  =====================================================================
0     done; every check passed
1     a check failed: a validation breach, a tampered file or an invalid
      signature, a rejected exchange, an invalid receipt, an alarm, an
      audit log that does not verify, a breaking contract change
2     usage, configuration or terminal error: fix what the message and its
      hint say, then run it again
75    transient: the store is unreachable or busy; retry later
====  =====================================================================

With ``--json`` a command prints exactly one JSON document on stdout (also when it
fails: ``{"ok": false, "exit_code": ..., "error": {...}}``); progress and log lines go
to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from exchange.errors import GcmxError, ProtocolError, QuarantineError, SignatureError

OK, CHECK_FAILED, TERMINAL, TRANSIENT = 0, 1, 2, 75

EXIT_CODES = (
    (OK, "done; every check passed"),
    (CHECK_FAILED, "a check failed: a validation breach, a tampered file or invalid signature, "
                   "a rejected exchange, an invalid receipt, an alarm, an audit log that does "
                   "not verify, a breaking contract change"),
    (TERMINAL, "usage, configuration or terminal error: fix what the message and its hint say"),
    (TRANSIENT, "transient: the store is unreachable or busy; retry later"),
)


def _check_failures() -> tuple[type[BaseException], ...]:
    """Errors that report a failed check (the data or a file is wrong), not a broken run."""
    from exchange.crypto.age.errors import HeaderMacError, PayloadError

    return (SignatureError, ProtocolError, QuarantineError, HeaderMacError, PayloadError)


def exit_code(outcome: BaseException | bool | None = None) -> int:
    """The exit code of every command: ``None``/``False`` (nothing found) 0, ``True`` (a check
    failed) 1, an error by its kind (a failed check 1, transient 75, anything else 2)."""
    if outcome is None or outcome is False:
        return OK
    if outcome is True:
        return CHECK_FAILED
    if isinstance(outcome, GcmxError) and outcome.transient:
        return TRANSIENT
    if isinstance(outcome, _check_failures()):
        return CHECK_FAILED
    return TERMINAL


def finish(check_failed: bool) -> None:
    """End a command that ran to its end: exit 1 if a check failed, else 0."""
    raise SystemExit(exit_code(bool(check_failed)))


def json_option(func: Callable) -> Callable:
    """``--json``: one JSON document on stdout, nothing else there."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document on stdout (nothing else goes there).")(func)


def quiet_option(func: Callable) -> Callable:
    """``-q/--quiet``: no progress bars."""
    return click.option("-q", "--quiet", is_flag=True, help="No progress bars.")(func)


def emit_json(document: Any) -> None:
    """Print ``document`` as the command's one JSON document on stdout."""
    click.echo(json.dumps(document, indent=2, default=str))


def error_document(exc: BaseException, code: int) -> dict:
    """The JSON document of a failed command."""
    if isinstance(exc, GcmxError):
        error = {"kind": type(exc).__name__, "message": exc.message, "hint": exc.hint,
                 **{k: str(v) for k, v in exc.fields.items()}}
    elif isinstance(exc, click.ClickException):
        error = {"kind": "UsageError", "message": exc.format_message(), "hint": "see --help"}
    else:
        error = {"kind": type(exc).__name__, "message": "unexpected failure", "hint": None}
    return {"ok": False, "exit_code": code, "error": error}


def counted(number: int, noun: str) -> str:
    """``1 row``, ``2 rows``, ``1,234 rows``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


class StageBar:
    """One progress bar for one stage, shown only when stderr is a terminal and not ``quiet``.

    The bar appears at the first progress report, so a command that fails at once shows
    none and the rate counts only the transfer (not the validation before it).
    """

    def __init__(self, desc: str, *, quiet: bool = False, total: int | None = None, unit: str = "B"):
        self.desc, self.total, self.unit = desc, total, unit
        self.enabled = not quiet and sys.stderr.isatty()
        self._bar = None

    def update(self, amount: int) -> None:
        """Advance the bar by ``amount`` (bytes); the first call draws it."""
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(desc=self.desc, total=self.total, unit=self.unit, unit_scale=True,
                             unit_divisor=1024, leave=False, file=sys.stderr)
        self._bar.update(amount)

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.close()
