"""Progress bars: one per stage, on a screen only, never with --quiet, drawn only once data moves."""

from __future__ import annotations

import io

import pytest

from exchange.cli import output
from exchange.cli.output import StageBar, counted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def screen(monkeypatch):
    """A terminal as stderr, set within the test (pytest re-installs its capture between phases)."""
    def install() -> Terminal:
        terminal = Terminal()
        monkeypatch.setattr(output.sys, "stderr", terminal)
        return terminal
    return install


def test_a_bar_appears_only_once_data_moves_with_its_total(screen):
    screen = screen()
    with StageBar("upload", total=2048) as bar:
        assert screen.getvalue() == ""  # validation and set-up time is not in the bar's rate
        bar.update(1024)
        bar.update(1024)
        assert "upload:   0%" in screen.getvalue() and "/2.00k" in screen.getvalue()  # a total, a percentage


def test_a_command_that_fails_at_once_draws_nothing(screen):
    screen = screen()
    with pytest.raises(RuntimeError), StageBar("download"):
        raise RuntimeError("failed before any byte moved")
    assert screen.getvalue() == ""


def test_quiet_or_not_a_terminal_means_no_bar(screen, monkeypatch):
    screen = screen()
    with StageBar("upload", quiet=True) as bar:
        bar.update(10)
    assert screen.getvalue() == ""
    piped = io.StringIO()
    monkeypatch.setattr(output.sys, "stderr", piped)
    with StageBar("upload") as bar:
        bar.update(10)
    assert piped.getvalue() == ""


def test_counted_nouns():
    assert (counted(1, "row"), counted(0, "row"), counted(1234, "row")) == ("1 row", "0 rows", "1,234 rows")
