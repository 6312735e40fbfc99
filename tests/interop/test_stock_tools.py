"""A partner without gcmx opens an exchange with the `aws` CLI, minisign, sha256sum and age alone.

The commands run are the README's section "Opening an exchange with stock tools", taken
from the README itself: only its documented placeholders are filled in, and the text run
is exactly the partner session ``make demo`` prints (``session_text``), against the demo's
set-up (provisioned parties, the partner folder the demo writes) on a real SeaweedFS.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from exchange.devkit.partner_session import BLOCKS, PLACEHOLDERS, session_text, write_partner_folder
from exchange.protocol.outbound import publish
from tests.support.protocol import dataset, make_nodes

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # the pinned aws CLI (dev extra) and gcmx
SECTION = "## Opening an exchange with stock tools"


def readme_blocks() -> list[str]:
    """The fenced ``sh`` blocks of the README's stock-tools section, as written."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.S | re.M)


def age_version() -> tuple[int, ...]:
    """The installed ``age`` CLI's version, e.g. (1, 1, 1)."""
    out = subprocess.run(["age", "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(n) for n in found.groups()) if found else (0,)


def partner_env(home: Path) -> dict[str, str]:
    """The partner's shell: the pinned aws CLI and gcmx on PATH, no AWS settings from this machine."""
    assert (VENV_BIN / "aws").exists(), "the aws CLI is missing: run `make install` (dev extra: awscli)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    path = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    return env | {"HOME": str(home), "PATH": path}


def demo_exchange(seaweed, tmp_path: Path, period: str, classic: bool):
    """The demo's set-up for one exchange KHM -> THA: published, and THA's partner folder written."""
    nodes = make_nodes(seaweed, tmp_path / "parties", classic=classic)
    src = dataset("workers_deployed.khm-tha", tmp_path, period=period)
    result = publish(nodes["KHM"], src, "workers_deployed.khm-tha", period)
    creds = seaweed.credentials["THA"]
    folder = write_partner_folder(tmp_path / "partner" / "THA", nodes["THA"].home, "THA", "KHM",
                                  creds.access_key_id, creds.secret_access_key)
    return result, folder


def run_session(script: str, tmp_path: Path) -> str:
    """Run the partner's lines with bash, stopping at the first failing one."""
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                          env=partner_env(tmp_path / "home"), cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, f"the README's lines failed:\n{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def assert_opened(folder: Path, output: str, exchange_id: str) -> None:
    """minisign verified the manifest of this exchange; both hashes and the rows match it."""
    assert "Signature and comment signature verified" in output and exchange_id in output
    exchange = folder / "exchange"
    manifest = json.loads((exchange / "manifest.json").read_text())
    for name, field in (("data.parquet.age", "ciphertext"), ("data.parquet", "plaintext")):
        digest = manifest[field]["sha256"]
        assert hashlib.sha256((exchange / name).read_bytes()).hexdigest() == digest
        assert f"{digest}  exchange/{name}" in output  # what sha256sum printed for the partner
    assert pq.read_table(exchange / "data.parquet").num_rows == manifest["rows"]


def test_the_readme_shows_exactly_the_lines_the_demo_prints():
    blocks = readme_blocks()
    assert blocks == list(BLOCKS)
    assert {p for block in blocks for p in re.findall(r"<[a-z_]+>", block)} == set(PLACEHOLDERS)


def test_partner_opens_a_classic_key_exchange_with_the_readme_lines(seaweed, tmp_path):
    result, folder = demo_exchange(seaweed, tmp_path, "2025-07", classic=True)
    session = session_text(folder, seaweed.endpoint, "2025-07", result.exchange_id, classic=True)
    commands = {line.split()[0] for line in session.splitlines() if line and not line.startswith("#")}
    assert {c for c in commands if "=" not in c} == {"cd", "export", "aws", "minisign", "sha256sum", "age"}
    output = run_session(session, tmp_path)
    assert f"PRE {result.exchange_id}/" in output  # how the partner finds the exchange id
    assert_opened(folder, output, result.exchange_id)


def test_partner_opens_a_post_quantum_exchange_with_gcmx_decrypt(seaweed, tmp_path):
    result, folder = demo_exchange(seaweed, tmp_path, "2025-08", classic=False)
    assert (folder / "THA.age").read_text().count("AGE-SECRET-KEY-PQ-1") == 1
    session = session_text(folder, seaweed.endpoint, "2025-08", result.exchange_id, classic=False)
    assert_opened(folder, run_session(session, tmp_path), result.exchange_id)


def test_partner_opens_a_post_quantum_exchange_with_age_1_3(seaweed, tmp_path):
    version = age_version()
    if version < (1, 3):
        pytest.skip(f"age {'.'.join(map(str, version))} is installed: post-quantum keys need age >= 1.3 "
                    "(Debian's 1.1.1 fails with 'unknown identity type'), as the README says")
    result, folder = demo_exchange(seaweed, tmp_path, "2025-09", classic=False)
    script = session_text(folder, seaweed.endpoint, "2025-09", result.exchange_id, classic=True)
    assert_opened(folder, run_session(script, tmp_path), result.exchange_id)
