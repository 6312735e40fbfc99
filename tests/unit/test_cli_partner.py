"""`gcmx encrypt/decrypt/sign/verify-signature` through click's CliRunner, good and bad input."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.crypto.keys import generate_party_keys
from exchange.crypto.minisign import SecretKey


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    return {
        "KHM": generate_party_keys("KHM", directory),
        "THA": generate_party_keys("THA", directory, classic=True),
    }


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def assert_clean_failure(result, fragment: str, code: int = 2) -> None:
    """The exit code (2 unless a check failed: 1), one error line naming the problem (plus a
    hint), no traceback."""
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("gcmx: error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert "Traceback" not in result.output


def test_encrypt_decrypt_files_round_trip(tmp_path, keys):
    plain = tmp_path / "data.parquet"
    plain.write_bytes(b"PAR1" + bytes(range(256)) * 700)
    sealed, opened = tmp_path / "data.parquet.age", tmp_path / "opened.parquet"
    result = run("encrypt", "-R", keys["KHM"].age_recipient, "-o", sealed, plain)
    assert result.exit_code == 0, result.output
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1\n")
    result = run("decrypt", "-i", keys["KHM"].age_identity, "-o", opened, sealed)
    assert result.exit_code == 0, result.output
    assert opened.read_bytes() == plain.read_bytes()


def test_encrypt_decrypt_stdin_stdout_armored(keys):
    recipient = keys["THA"].age_recipient.read_text().strip()
    sealed = run("encrypt", "-r", recipient, "-a", input=b"hello THA\n")
    assert sealed.exit_code == 0, sealed.output
    assert sealed.stdout_bytes.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    opened = run("decrypt", "-i", keys["THA"].age_identity, input=sealed.stdout_bytes)
    assert opened.exit_code == 0, opened.output
    assert opened.stdout_bytes == b"hello THA\n"


def test_decrypt_with_wrong_key_leaves_no_output(tmp_path, keys):
    sealed = tmp_path / "x.age"
    assert run("encrypt", "-R", keys["KHM"].age_recipient, "-o", sealed, input=b"x").exit_code == 0
    out = tmp_path / "out"
    result = run("decrypt", "-i", keys["THA"].age_identity, "-o", out, sealed)
    assert_clean_failure(result, "none of the given age identities")
    assert list(tmp_path.iterdir()) == [sealed]


def test_decrypt_tampered_file_leaves_no_output(tmp_path, keys):
    sealed = tmp_path / "x.age"
    assert run("encrypt", "-R", keys["THA"].age_recipient, "-o", sealed, input=b"x" * 1000).exit_code == 0
    data = bytearray(sealed.read_bytes())
    data[-20] ^= 1
    sealed.write_bytes(bytes(data))
    result = run("decrypt", "-i", keys["THA"].age_identity, "-o", tmp_path / "out", sealed)
    assert result.exit_code == 1 and "Traceback" not in result.output  # a check failed: tampered
    assert list(tmp_path.iterdir()) == [sealed]


def test_encrypt_needs_recipients_and_input(tmp_path, keys):
    assert_clean_failure(run("encrypt", input=b"x"), "no recipients")
    assert_clean_failure(
        run("encrypt", "-R", keys["KHM"].age_recipient, tmp_path / "absent"), "does not exist"
    )
    assert_clean_failure(run("encrypt", "-R", tmp_path / "absent.pub", input=b"x"), "absent.pub")
    assert_clean_failure(run("encrypt", "-r", "age1notvalid", input=b"x"), "recipient")


def test_decrypt_missing_identity_file(tmp_path):
    assert_clean_failure(run("decrypt", "-i", tmp_path / "KHM.age", input=b"x"), "KHM.age")


def test_output_directory_must_exist(tmp_path, keys):
    result = run("encrypt", "-R", keys["KHM"].age_recipient, "-o", tmp_path / "no" / "x.age", input=b"x")
    assert_clean_failure(result, "output directory")


def test_sign_and_verify_signature(tmp_path, keys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"exchange_id": "KHM-THA-1"}\n')
    result = run("sign", "-s", keys["KHM"].minisign_secret, "-m", manifest, "-t", "exchange KHM-THA-1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "manifest.json.minisig").is_file()
    result = run("verify-signature", "-p", keys["KHM"].minisign_public, "-m", manifest)
    assert result.exit_code == 0, result.output
    assert result.stdout == "exchange KHM-THA-1\n"


def test_default_trusted_comment_names_file(tmp_path, keys):
    manifest = tmp_path / "receipt.json"
    manifest.write_text("{}")
    assert run("sign", "-s", keys["THA"].minisign_secret, "-m", manifest).exit_code == 0
    moved = tmp_path / "elsewhere.sig"
    (tmp_path / "receipt.json.minisig").rename(moved)
    public = keys["THA"].minisign_public.read_text().splitlines()[1]
    result = run("verify-signature", "-P", public, "-m", manifest, "-x", moved)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("timestamp:") and "file:receipt.json" in result.stdout


def test_verify_signature_failures(tmp_path, keys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text("original")
    assert run("sign", "-s", keys["KHM"].minisign_secret, "-m", manifest).exit_code == 0
    wrong_key = run("verify-signature", "-p", keys["THA"].minisign_public, "-m", manifest)
    assert_clean_failure(wrong_key, "signed by key", code=1)
    manifest.write_text("tampered")
    tampered = run("verify-signature", "-p", keys["KHM"].minisign_public, "-m", manifest)
    assert_clean_failure(tampered, "bad signature", code=1)
    missing = run("verify-signature", "-p", keys["KHM"].minisign_public, "-m", tmp_path / "nope")
    assert_clean_failure(missing, "nope.minisig does not exist")
    no_key = run("verify-signature", "-m", manifest)
    assert_clean_failure(no_key, "exactly one of -p")
    bad_key = run("verify-signature", "-p", manifest, "-m", manifest)
    assert_clean_failure(bad_key, "is not a minisign")


def test_sign_missing_file_and_key(tmp_path, keys):
    assert_clean_failure(run("sign", "-s", keys["KHM"].minisign_secret, "-m", tmp_path / "absent"), "absent")
    assert_clean_failure(
        run("sign", "-s", tmp_path / "KHM.minisign.key", "-m", keys["KHM"].age_recipient),
        "KHM.minisign.key does not exist",
    )


def test_sign_with_password_protected_key(tmp_path, keys):
    key = SecretKey.from_file(keys["KHM"].minisign_secret)
    protected = key.write(tmp_path / "protected.key", "pw", opslimit=1 << 15, memlimit=1 << 20)
    target = tmp_path / "f"
    target.write_text("x")
    assert_clean_failure(run("sign", "-s", protected, "-m", target, input="wrong\n"), "wrong password")
    assert run("sign", "-s", protected, "-m", target, input="pw\n").exit_code == 0
    assert key.public_key.verify_file(target).endswith("file:f\thashed")
