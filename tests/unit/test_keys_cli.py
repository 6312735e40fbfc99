"""`gcmx keys generate/show/linkage` through click's CliRunner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from exchange.cli import main


@pytest.fixture
def env(tmp_path):
    return {
        "GCMX_PARTY": "KHM",
        "GCMX_HOME": str(tmp_path / "home"),
        "GCMX_IDENTITY": None,
        "GCMX_KEYRING": None,
    }


def run(env, *args):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_generate_then_show_never_prints_secrets(tmp_path, env):
    out = tmp_path / "keys"
    generated = run(env, "keys", "generate", "--party", "tha", "--out", out, "--classic")
    assert generated.exit_code == 0, generated.output
    secret_line = (out / "THA.age").read_text().splitlines()[-1]
    minisign_secret = (out / "THA.minisign.key").read_text().splitlines()[1]
    shown = run(env, "keys", "show", "--party", "THA", "--dir", out)
    assert shown.exit_code == 0, shown.output
    recipient = (out / "THA.age.pub").read_text().strip()
    assert f"age recipient:       {recipient}" in shown.stdout
    assert "minisign key id:" in shown.stdout
    for output in (generated.output, shown.output):
        assert secret_line not in output and minisign_secret not in output
        assert "AGE-SECRET-KEY" not in output


def test_defaults_come_from_settings(tmp_path, env):
    assert run(env, "keys", "generate").exit_code == 0
    identity_dir = tmp_path / "home" / "keys"
    assert (identity_dir / "KHM.age").is_file()
    shown = run(env, "keys", "show")
    assert shown.exit_code == 0 and "party:               KHM" in shown.stdout


def test_show_finds_partner_keys_in_keyring(tmp_path, env):
    keyring = tmp_path / "home" / "keyring"
    assert run(env, "keys", "generate", "--party", "MYS", "--out", keyring).exit_code == 0
    shown = run(env, "keys", "show", "--party", "MYS")
    assert shown.exit_code == 0, shown.output


def test_errors_are_one_line_exit_2(tmp_path, env):
    out = tmp_path / "keys"
    assert run(env, "keys", "generate", "--out", out).exit_code == 0
    again = run(env, "keys", "generate", "--out", out)
    missing = run(env, "keys", "show", "--party", "KOR")
    no_party = run({**env, "GCMX_PARTY": None}, "keys", "show")
    bad_party = run(env, "keys", "generate", "--party", "Thailand", "--out", out)
    for result, fragment in [
        (again, "already exist"),
        (missing, "no public keys of KOR"),
        (no_party, "no party configured"),
        (bad_party, "invalid party code"),
    ]:
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("gcmx: error:")]
        assert len(errors) == 1 and fragment in errors[0], result.stderr
        assert "Traceback" not in result.output


def test_linkage_key_command(tmp_path, env):
    made = run(env, "keys", "linkage", "--partner", "THA")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "home" / "keys" / "linkage" / "KHM-THA.key").is_file()
    assert run(env, "keys", "linkage", "--partner", "tha").exit_code == 2
