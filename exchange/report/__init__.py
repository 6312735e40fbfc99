"""The auditor's report: one self-contained HTML file of every exchange of one party.

* :func:`gather` reads the party's home folder (manifests, receipts, decisions, validation
  and disclosure reports, quarantine, audit log) into plain dicts; never a data file. Every
  expectation is shown with the parameters of the suite that was validated
  (:mod:`exchange.report.expectations`, joined by contract hash).
* :func:`summarise` adds counts per partner / dataset / period and the chart geometry.
* :func:`render` turns that into HTML (Jinja2 templates shipped with the package).
* :func:`build_report` does all three for configured settings and writes the file.
"""

from __future__ import annotations

from pathlib import Path

from exchange.protocol.naming import REPORTS, report_file
from exchange.report.gather import gather
from exchange.report.render import render, write_html
from exchange.report.summary import summarise
from exchange.settings import Settings

__all__ = ["build_report", "default_output", "gather", "render", "report_html", "summarise", "write_html"]


def default_output(settings: Settings) -> Path:
    """Where the report goes unless told otherwise: ``{home}/reports/{PARTY}-report.html``."""
    return settings.home / REPORTS / report_file(settings.require_party())


DEFAULT_SUITES = ((Settings.model_fields["contracts"].default, Settings.model_fields["expectations"].default),)


def configured_suites() -> tuple[tuple[Path, Path], ...]:
    """The configured (``GCMX_CONTRACTS``, ``GCMX_EXPECTATIONS``) folders, then the repository's own."""
    try:
        settings = Settings()
    except ValueError:  # a bad setting elsewhere; the commands that need it say so
        return DEFAULT_SUITES
    return ((settings.contracts, settings.expectations), *DEFAULT_SUITES)


def report_html(
    home: Path, party: str, key_dirs: tuple[Path, ...] = (), suites: tuple[tuple[Path, Path], ...] | None = None
) -> tuple[str, dict]:
    """The report's HTML for ``party`` at ``home`` and the data it shows.

    ``suites``: (contracts, expectations) folders where the validated suites are looked up
    (by contract id and hash) for their parameters; default :func:`configured_suites`."""
    data = summarise(gather(home, party, key_dirs, configured_suites() if suites is None else suites))
    return render(data), data


def build_report(settings: Settings, out: Path | None = None) -> Path:
    """Build the report of the configured party and write it to ``out``; return the path."""
    party = settings.require_party()
    suites = ((settings.contracts, settings.expectations), *DEFAULT_SUITES)
    html, _ = report_html(settings.home, party, (settings.keyring_dir, settings.identity_dir), suites)
    return write_html(html, out or default_output(settings))
