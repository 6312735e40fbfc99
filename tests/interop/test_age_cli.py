"""Interop with Debian's age CLI: it decrypts what we encrypt (X25519), we decrypt what it encrypts."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from exchange.crypto import age

CHUNK = 64 * 1024


def _run(*argv: str, data: bytes | None = None) -> bytes:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} CLI is not installed: run `make tools` (Debian package age)")
    proc = subprocess.run(argv, input=data, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path | str]:
    """One key made by age-keygen, one made by us (its file read by `age -d -i`)."""
    folder = tmp_path_factory.mktemp("keys")
    cli_key = folder / "cli.txt"
    _run("age-keygen", "-o", str(cli_key))
    ours = age.generate_identity(post_quantum=False)
    our_key = folder / "ours.txt"
    our_key.write_text(age.format_identity_file(ours))
    return {
        "cli_file": cli_key,
        "cli_recipient": _run("age-keygen", "-y", str(cli_key)).decode().strip(),
        "our_file": our_key,
        "our_identity": ours,
        "our_recipient": age.to_recipient(ours),
    }


def _encrypt(data: bytes, recipients: list[str]) -> bytes:
    out = io.BytesIO()
    with age.encryptor(out, recipients) as sealed:
        sealed.write(data)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_cli_decrypts_ours(keys, tmp_path, size: int) -> None:
    plain = os.urandom(size)
    sealed = tmp_path / "f.age"
    sealed.write_bytes(_encrypt(plain, [str(keys["cli_recipient"])]))
    assert _run("age", "-d", "-i", str(keys["cli_file"]), str(sealed)) == plain


def test_cli_decrypts_ours_with_several_recipients(keys, tmp_path) -> None:
    plain = os.urandom(CHUNK + 123)
    other = age.to_recipient(age.generate_identity(post_quantum=False))
    sealed = tmp_path / "f.age"
    recipients = [other, str(keys["cli_recipient"]), str(keys["our_recipient"])]
    sealed.write_bytes(_encrypt(plain, recipients))
    for key_file in (keys["cli_file"], keys["our_file"]):
        assert _run("age", "-d", "-i", str(key_file), str(sealed)) == plain


def test_cli_reads_our_identity_file_and_armor(keys, tmp_path) -> None:
    out = io.BytesIO()
    with age.ArmoredWriter(out) as writer:
        with age.encryptor(writer, [str(keys["our_recipient"])]) as sealed:
            sealed.write(b"armored hello")
    sealed = tmp_path / "f.age"
    sealed.write_bytes(out.getvalue())
    assert _run("age", "-d", "-i", str(keys["our_file"]), str(sealed)) == b"armored hello"


@pytest.mark.slow
def test_cli_decrypts_ours_50_mb(keys, tmp_path) -> None:
    src, sealed = tmp_path / "big", tmp_path / "big.age"
    src.write_bytes(os.urandom(50 * 1000 * 1000))
    with src.open("rb") as plain, sealed.open("wb") as out, \
            age.encryptor(out, [str(keys["cli_recipient"])]) as writer:
        shutil.copyfileobj(plain, writer, CHUNK)
    target = tmp_path / "big.out"
    _run("age", "-d", "-i", str(keys["cli_file"]), "-o", str(target), str(sealed))
    assert target.read_bytes() == src.read_bytes()


@pytest.mark.parametrize("armor", [False, True])
@pytest.mark.parametrize("size", [0, 5, CHUNK, 2 * CHUNK + 9])
def test_we_decrypt_cli_output(keys, armor: bool, size: int) -> None:
    plain = os.urandom(size)
    flags = ["-a"] if armor else []
    recipients = ["-r", str(keys["cli_recipient"]), "-r", str(keys["our_recipient"])]
    sealed = _run("age", *flags, *recipients, data=plain)
    assert sealed.startswith(b"-----BEGIN" if armor else b"age-encryption.org/v1\n")
    for identities in (
        age.read_identity_file(Path(keys["cli_file"]).read_text()),
        [str(keys["our_identity"])],
    ):
        assert age.decryptor(io.BytesIO(sealed), identities).read() == plain


def test_we_reject_cli_output_for_another_key(keys) -> None:
    sealed = _run("age", "-r", str(keys["cli_recipient"]), data=b"not for you")
    with pytest.raises(age.NoIdentityMatchedError):
        age.decryptor(io.BytesIO(sealed), [str(keys["our_identity"])])
