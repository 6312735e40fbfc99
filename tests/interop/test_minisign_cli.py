"""Interop with Debian's ``minisign`` CLI: it verifies ours, we verify its, keys go both ways."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from exchange.crypto.minisign import PublicKey, SecretKey, generate_keypair
from exchange.errors import SignatureError

MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"  # installed by `make tools`
PASSWORD = "interop password"


def minisign(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MINISIGN, *map(str, args)], input=stdin, capture_output=True, text=True, timeout=120
    )


def cli_keypair(directory: Path, password: str | None) -> tuple[Path, Path]:
    """A key pair made by ``minisign -G`` (``-W`` when no password; password fed on stdin)."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = directory / "cli.pub", directory / "cli.key"
    if password is None:
        done = minisign("-G", "-W", "-p", public, "-s", secret)
    else:
        done = minisign("-G", "-p", public, "-s", secret, stdin=f"{password}\n{password}\n")
    assert done.returncode == 0, done.stderr
    return public, secret


def cli_sign(secret: Path, file: Path, comment: str, password: str | None = None) -> Path:
    stdin = f"{password}\n" if password else ""
    done = minisign("-S", "-s", secret, "-m", file, "-t", comment, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return Path(f"{file}.minisig")


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> tuple[SecretKey, Path]:
    secret, public = generate_keypair()
    return secret, public.write(tmp_path_factory.mktemp("ours") / "KHM.minisign.pub")


@pytest.fixture(scope="module")
def cli_protected(tmp_path_factory) -> tuple[Path, Path]:
    return cli_keypair(tmp_path_factory.mktemp("cli-protected"), PASSWORD)


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_bytes(b'{"exchange_id": "KHM-THA-workers_deployed-2025-01"}\n' * 500)
    return path


def test_minisign_verifies_our_file_signature(ours, data_file):
    secret, public_path = ours
    secret.sign_file(data_file, "exchange:KHM-THA-1\tfile:manifest.json")
    done = minisign("-V", "-p", public_path, "-m", data_file)
    assert done.returncode == 0, done.stderr
    assert "Trusted comment: exchange:KHM-THA-1\tfile:manifest.json" in done.stdout


def test_minisign_verifies_our_data_signature_with_bare_key(ours, data_file):
    secret, public_path = ours
    signature = data_file.with_name("sig")
    signature.write_bytes(secret.sign(data_file.read_bytes(), "receipt 7"))
    public = PublicKey.from_file(public_path)
    done = minisign("-V", "-P", public.base64, "-m", data_file, "-x", signature)
    assert done.returncode == 0, done.stderr
    assert "Trusted comment: receipt 7" in done.stdout


def test_minisign_rejects_our_signature_over_tampered_data(ours, data_file):
    secret, public_path = ours
    secret.sign_file(data_file, "tc")
    data_file.write_bytes(data_file.read_bytes() + b" ")
    assert minisign("-V", "-p", public_path, "-m", data_file).returncode != 0


def test_we_verify_minisign_signature_unprotected_key(tmp_path, data_file):
    public_path, secret_path = cli_keypair(tmp_path / "cli", None)
    cli_sign(secret_path, data_file, "signed by the minisign CLI")
    public = PublicKey.from_file(public_path)
    assert public.verify_file(data_file) == "signed by the minisign CLI"
    assert public.key_id in public_path.read_text().splitlines()[0]
    data_file.write_bytes(b"tampered")
    with pytest.raises(SignatureError, match="bad signature"):
        public.verify_file(data_file)


def test_we_read_minisign_unprotected_secret_key_and_it_reads_ours(tmp_path, data_file):
    public_path, secret_path = cli_keypair(tmp_path / "cli", None)
    secret = SecretKey.from_file(secret_path)
    assert secret.public_key == PublicKey.from_file(public_path)
    ours = secret.write(tmp_path / "copy.key")
    cli_sign(ours, data_file, "CLI signing with our key file")
    assert secret.public_key.verify_file(data_file) == "CLI signing with our key file"


@pytest.mark.slow
def test_we_verify_minisign_signature_password_key(cli_protected, data_file):
    public_path, secret_path = cli_protected
    cli_sign(secret_path, data_file, "protected key", PASSWORD)
    assert PublicKey.from_file(public_path).verify_file(data_file) == "protected key"


@pytest.mark.slow
def test_we_read_minisign_password_protected_secret_key(cli_protected, data_file):
    public_path, secret_path = cli_protected
    secret = SecretKey.from_file(secret_path, PASSWORD)
    assert secret.public_key == PublicKey.from_file(public_path)
    secret.sign_file(data_file, "our signature, CLI's key")
    assert minisign("-V", "-p", public_path, "-m", data_file).returncode == 0


@pytest.mark.slow
def test_minisign_reads_our_password_protected_secret_key(tmp_path, ours, data_file):
    secret, public_path = ours
    # minisign honours the scrypt limits stored in the file; its own defaults (1 GiB) are
    # exercised by the tests reading `minisign -G` keys, so a lighter setting keeps this quick
    protected = secret.write(tmp_path / "protected.key", PASSWORD, opslimit=1 << 22, memlimit=1 << 27)
    cli_sign(protected, data_file, "CLI with our protected key", PASSWORD)
    done = minisign("-V", "-p", public_path, "-m", data_file)
    assert done.returncode == 0, done.stderr
    assert "CLI with our protected key" in done.stdout
