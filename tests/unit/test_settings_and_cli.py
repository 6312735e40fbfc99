"""Typed settings from GCMX_* and the gcmx entry point."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from exchange import __version__
from exchange.cli import main
from exchange.errors import ConfigError
from exchange.settings import load_settings


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GCMX_PARTY", "khm")
    monkeypatch.setenv("GCMX_HOME", str(tmp_path))
    monkeypatch.setenv("GCMX_S3_SECRET_ACCESS_KEY", "very-secret-value")
    settings = load_settings()
    assert settings.party == "KHM"
    assert settings.keyring_dir == tmp_path / "keyring"
    assert settings.identity_dir == tmp_path / "keys"
    assert "very-secret-value" not in repr(settings)


def test_bad_party_names_the_variable(monkeypatch):
    monkeypatch.setenv("GCMX_PARTY", "Cambodia")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "GCMX_PARTY" in str(err.value)


def test_missing_party_names_the_variable(monkeypatch):
    monkeypatch.delenv("GCMX_PARTY", raising=False)
    with pytest.raises(ConfigError) as err:
        load_settings().require_party()
    assert "GCMX_PARTY" in str(err.value)


def test_gcmx_help_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0 and "GCMX_PARTY" in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
