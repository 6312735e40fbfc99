"""Keys made by `gcmx keys generate --classic` work with Debian's `age` CLI."""

from __future__ import annotations

import shutil
import subprocess

from click.testing import CliRunner

from exchange.cli import main

AGE = shutil.which("age") or "/usr/bin/age"  # installed by `make tools`


def test_age_cli_uses_classic_keys_from_gcmx(tmp_path):
    generated = CliRunner().invoke(
        main, ["keys", "generate", "--party", "KHM", "--out", str(tmp_path), "--classic"]
    )
    assert generated.exit_code == 0, generated.output
    identity, recipients = tmp_path / "KHM.age", tmp_path / "KHM.age.pub"
    plain = b"workers_deployed 2025-01\n" * 100

    by_age = subprocess.run([AGE, "-e", "-R", str(recipients)], input=plain, capture_output=True, check=True)
    opened = subprocess.run(
        [AGE, "-d", "-i", str(identity)], input=by_age.stdout, capture_output=True, check=True
    )
    assert opened.stdout == plain

    sealed = tmp_path / "data.age"
    encrypted = CliRunner().invoke(main, ["encrypt", "-R", str(recipients), "-o", str(sealed)], input=plain)
    assert encrypted.exit_code == 0, encrypted.output
    by_gcmx = subprocess.run([AGE, "-d", "-i", str(identity), str(sealed)], capture_output=True, check=True)
    assert by_gcmx.stdout == plain
