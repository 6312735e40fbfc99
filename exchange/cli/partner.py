"""Stand-alone crypto commands for partners and auditors, compatible with `age` and `minisign`.

`gcmx encrypt` / `gcmx decrypt` read and write the age format; `gcmx sign` /
`gcmx verify-signature` the minisign format. Input and output default to stdin/stdout;
with ``-o`` the output goes to a temp file renamed into place only on success.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import click

from exchange.atomic import atomic_output
from exchange.crypto import age
from exchange.crypto.minisign import PasswordRequired, PublicKey, SecretKey
from exchange.errors import ConfigError, NotFound

_FILE = click.Path(dir_okay=False, path_type=Path)
COPY_BLOCK = 1 << 20


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{what} {path} does not exist", hint="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {what} {path}: {exc.__class__.__name__}", hint="give a text file"
        ) from None


@contextmanager
def _input(path: Path | None) -> Iterator[BinaryIO]:
    if path is None:
        yield sys.stdin.buffer
        return
    if not path.is_file():
        raise NotFound(f"input file {path} does not exist", hint="check the path")
    with open(path, "rb") as stream:
        yield stream


@contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    """stdout, or a temp file beside ``path`` renamed over it only if the block succeeds."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    if not path.parent.is_dir():
        raise NotFound(f"output directory {path.parent} does not exist", hint="create it first")
    with atomic_output(path) as stream:
        yield stream


def _recipients_file(path: Path) -> list[str]:
    lines = (line.strip() for line in _read_text(path, "recipients file").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@click.command("encrypt")
@click.option(
    "-r",
    "--recipient",
    "recipients",
    multiple=True,
    help="age recipient (age1... or age1pq1...); repeatable.",
)
@click.option(
    "-R",
    "--recipients-file",
    "recipient_files",
    multiple=True,
    type=_FILE,
    help="File of recipients, one per line (e.g. THA.age.pub); repeatable.",
)
@click.option("-a", "--armor", is_flag=True, help="ASCII-armored (PEM-like) output.")
@click.option("-o", "--output", type=_FILE, help="Output file [default: stdout].")
@click.argument("input_path", metavar="[IN]", required=False, type=_FILE)
def encrypt(
    recipients: tuple[str, ...],
    recipient_files: tuple[Path, ...],
    armor: bool,
    output: Path | None,
    input_path: Path | None,
) -> None:
    """Encrypt IN [default: stdin] in the age format; `age -d` can decrypt it."""
    everyone = [*recipients, *(r for f in recipient_files for r in _recipients_file(f))]
    if not everyone:
        raise ConfigError("no recipients given", hint="use -r age1... or -R PARTY.age.pub")
    with _input(input_path) as src, _output(output) as dst:
        if armor:
            with age.ArmoredWriter(dst) as armored, age.encryptor(armored, everyone) as sealed:  # type: ignore[arg-type]
                shutil.copyfileobj(src, sealed, COPY_BLOCK)
        else:
            with age.encryptor(dst, everyone) as sealed:
                shutil.copyfileobj(src, sealed, COPY_BLOCK)


@click.command("decrypt")
@click.option(
    "-i",
    "--identity",
    "identity_files",
    multiple=True,
    required=True,
    type=_FILE,
    help="age identity file (e.g. KHM.age); repeatable.",
)
@click.option("-o", "--output", type=_FILE, help="Output file [default: stdout].")
@click.argument("input_path", metavar="[IN]", required=False, type=_FILE)
def decrypt(identity_files: tuple[Path, ...], output: Path | None, input_path: Path | None) -> None:
    """Decrypt an age file (binary or armored) from IN [default: stdin].

    With -o the plaintext appears only after the whole file authenticated; on stdout,
    discard the output if the command fails.
    """
    identities = [
        identity
        for path in identity_files
        for identity in age.read_identity_file(_read_text(path, "age identity file"))
    ]
    with _input(input_path) as src, _output(output) as dst:
        shutil.copyfileobj(age.decryptor(src, identities), dst, COPY_BLOCK)


@click.command("sign")
@click.option(
    "-s",
    "--secret-key",
    "secret_key",
    required=True,
    type=_FILE,
    help="minisign secret key file (e.g. KHM.minisign.key).",
)
@click.option("-m", "--message", "file", required=True, type=_FILE, help="File to sign.")
@click.option("-t", "--trusted-comment", help="Signed comment [default: timestamp and file name].")
def sign(secret_key: Path, file: Path, trusted_comment: str | None) -> None:
    """Sign FILE in the minisign format; writes FILE.minisig (`minisign -V` verifies it).

    A password-protected key asks for its password (read from stdin when not a terminal).
    """
    try:
        key = SecretKey.from_file(secret_key)
    except PasswordRequired:
        key = SecretKey.from_file(secret_key, click.prompt("Password", hide_input=True, err=True))
    comment = trusted_comment or f"timestamp:{int(time.time())}\tfile:{file.name}\thashed"
    signature = key.sign_file(file, comment)
    click.echo(f"signed {file} with key {key.key_id}: {signature}", err=True)


@click.command("verify-signature")
@click.option(
    "-p",
    "--public-key",
    "public_key_file",
    type=_FILE,
    help="minisign public key file (e.g. THA.minisign.pub).",
)
@click.option("-P", "--public-key-string", help="minisign public key as one base64 line.")
@click.option("-m", "--message", "file", required=True, type=_FILE, help="Signed file.")
@click.option(
    "-x", "--signature", "signature_file", type=_FILE, help="Signature file [default: FILE.minisig]."
)
def verify_signature(
    public_key_file: Path | None, public_key_string: str | None, file: Path, signature_file: Path | None
) -> None:
    """Verify FILE's minisign signature; exit 0 only if valid, print the trusted comment."""
    if (public_key_file is None) == (public_key_string is None):
        raise ConfigError(
            "give exactly one of -p PUBLIC_KEY_FILE or -P PUBLIC_KEY", hint="e.g. -p THA.minisign.pub"
        )
    if public_key_file is not None:
        public = PublicKey.from_file(public_key_file)
    else:
        public = PublicKey.from_string(public_key_string or "", "-P public key")
    comment = public.verify_file(file, signature_file)
    click.echo(f"signature by key {public.key_id} and trusted comment verified", err=True)
    click.echo(comment)


COMMANDS: list[click.Command] = [encrypt, decrypt, sign, verify_signature]
