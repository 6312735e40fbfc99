"""`gcmx report`: writes the file, says where, and exits 1 when the audit chain is broken."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from exchange.cli.report import COMMANDS, report
from exchange.errors import ConfigError
from tests.support.report_home import PARTY, build_home


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return build_home(tmp_path_factory.mktemp("cli"))["home"]


def test_writes_the_report_and_prints_its_path(home, tmp_path):
    out = tmp_path / "audit" / "report.html"
    result = CliRunner().invoke(report, ["--out", str(out), "--home", str(home), "--party", "khm"])
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.output and "audit chain intact" in result.output
    assert "3 sent (1 delivered), 3 received (1 landed), 3 rejected, 1 not sent" in result.output
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_defaults_come_from_settings(home, monkeypatch):
    monkeypatch.setenv("GCMX_HOME", str(home))
    monkeypatch.setenv("GCMX_PARTY", PARTY)
    result = CliRunner().invoke(report, [])
    assert result.exit_code == 0, result.output
    assert (home / "reports" / "KHM-report.html").is_file()


def test_broken_chain_exits_1_after_writing(home, tmp_path):
    broken = tmp_path / PARTY
    (broken / "audit").mkdir(parents=True)
    lines = (home / "audit" / f"{PARTY}.audit.jsonl").read_bytes().splitlines(keepends=True)
    (broken / "audit" / f"{PARTY}.audit.jsonl").write_bytes(b"".join(lines[:3] + lines[4:]))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(report, ["--out", str(out), "--home", str(broken), "--party", PARTY])
    assert result.exit_code == 1 and "FAILED verification" in result.output
    assert "FAILED verification" in out.read_text()


def test_needs_a_party(tmp_path, monkeypatch):
    monkeypatch.delenv("GCMX_PARTY", raising=False)
    result = CliRunner().invoke(report, ["--home", str(tmp_path), "--out", str(tmp_path / "r.html")])
    assert isinstance(result.exception, ConfigError)


def test_exposes_the_command():
    assert COMMANDS == [report] and report.name == "report"
