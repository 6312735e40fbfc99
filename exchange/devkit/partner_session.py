"""What a partner types to open an exchange with stock tools, and the folder it needs.

The three command blocks below are the README's section "Opening an exchange with stock
tools", word for word (``tests/interop/test_stock_tools.py`` checks that and runs them);
``make demo`` prints them with the placeholders filled in.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from exchange.atomic import write_bytes_atomic
from exchange.protocol.naming import KEYRING, KEYS

# Placeholders in the blocks, filled by ``fill``.
PLACEHOLDERS = ("<partner_folder>", "<endpoint>", "<period>", "<exchange_id>")

FETCH_AND_VERIFY = """\
cd <partner_folder>   # holds credentials (S3), THA.age (your age key), KHM.minisign.pub (the sender's)
export AWS_SHARED_CREDENTIALS_FILE=$PWD/credentials AWS_DEFAULT_REGION=us-east-1
S3=<endpoint>         # your store's URL; on AWS itself leave out every --endpoint-url "$S3"
aws s3 ls --endpoint-url "$S3" s3://khm-to-tha/workers_deployed/<period>/   # one PRE folder per exchange id
P=workers_deployed/<period>/<exchange_id>
aws s3 cp --recursive --endpoint-url "$S3" s3://khm-to-tha/$P/ exchange/
minisign -V -p KHM.minisign.pub -m exchange/manifest.json   # signature + trusted comment
sha256sum exchange/data.parquet.age                         # = manifest "ciphertext"."sha256"
"""

OPEN_CLASSIC = """\
age -d -i THA.age -o exchange/data.parquet exchange/data.parquet.age   # only THA's key opens it
sha256sum exchange/data.parquet                                        # = manifest "plaintext"."sha256"
"""

OPEN_POST_QUANTUM = """\
gcmx decrypt -i THA.age -o exchange/data.parquet exchange/data.parquet.age   # = age -d, any age key
sha256sum exchange/data.parquet                                              # = manifest "plaintext"."sha256"
"""

BLOCKS = (FETCH_AND_VERIFY, OPEN_CLASSIC, OPEN_POST_QUANTUM)


def fill(block: str, partner_folder: Path, endpoint: str, period: str, exchange_id: str) -> str:
    """``block`` with every placeholder replaced (the folder shell-quoted)."""
    values = dict(zip(PLACEHOLDERS, (shlex.quote(str(partner_folder)), endpoint, period, exchange_id), strict=True))
    for placeholder, value in values.items():
        block = block.replace(placeholder, value)
    return block


def credentials_file(access_key_id: str, secret_access_key: str) -> bytes:
    """An AWS shared credentials file (``[default]`` profile) for ``aws`` and boto3."""
    return (f"[default]\naws_access_key_id = {access_key_id}\n"
            f"aws_secret_access_key = {secret_access_key}\n").encode()


def write_partner_folder(folder: Path, recipient_home: Path, recipient: str, sender: str,
                         access_key_id: str, secret_access_key: str) -> Path:
    """The partner's working folder: its S3 credentials, its own age key, the sender's minisign key.

    In production the partner already holds all three; the demo hands them over in one
    place. The secret files are readable by their owner only.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_bytes_atomic(folder / "credentials", credentials_file(access_key_id, secret_access_key))
    (folder / "credentials").chmod(0o600)
    shutil.copy(recipient_home / KEYS / f"{recipient}.age", folder / f"{recipient}.age")
    (folder / f"{recipient}.age").chmod(0o600)
    shutil.copy(recipient_home / KEYRING / f"{sender}.minisign.pub", folder / f"{sender}.minisign.pub")
    return folder


def session_text(partner_folder: Path, endpoint: str, period: str, exchange_id: str, classic: bool) -> str:
    """The ready-to-paste partner session ``make demo`` prints (the README's blocks, filled in)."""
    opening = OPEN_CLASSIC if classic else OPEN_POST_QUANTUM
    note = ("# classic X25519 keys: any age version opens it\n" if classic else
            "# post-quantum keys (age1pq1...): `age -d` needs age >= 1.3 (Debian's 1.1.1 cannot);\n"
            "# gcmx decrypt does the same\n")
    tools = Path(sys.executable).parent  # this checkout's .venv/bin: the pinned aws CLI and gcmx
    path = f"export PATH={shlex.quote(str(tools))}:$PATH   # the pinned aws CLI and gcmx of this checkout\n"
    return path + fill(FETCH_AND_VERIFY, partner_folder, endpoint, period, exchange_id) + note + opening
