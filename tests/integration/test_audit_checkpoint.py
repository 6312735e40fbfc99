"""Audit checkpoints through a real SeaweedFS: KHM publishes, THA reads and verifies, stock tools agree."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner

from exchange.audit.log import AuditLog, fetch_latest_checkpoint, load_checkpoint, publish_checkpoint, verify_log
from exchange.cli import _Group
from exchange.cli.audit import COMMANDS
from exchange.contract.agreement import sign_contract
from exchange.contract.model import contracts_between
from exchange.crypto.keys import generate_party_keys
from exchange.crypto.minisign import PublicKey, SecretKey
from exchange.errors import AccessDenied
from exchange.protocol.naming import checkpoint_key, latest_checkpoint_key


@pytest.fixture
def khm(tmp_path):
    """KHM's home with keys and a short audit log."""
    files = generate_party_keys("KHM", tmp_path / "keys")
    log = AuditLog.for_home(tmp_path, "KHM")
    for n in range(4):
        log.append("publish", exchange_id=f"e{n}", bucket="khm-to-tha")
    return log, SecretKey.from_file(files.minisign_secret), PublicKey.from_file(files.minisign_public)


def test_checkpoint_round_trip_through_seaweed(stores, khm, tmp_path):
    log, secret, public = khm
    key = publish_checkpoint(log, secret, stores["KHM"], ["khm-to-tha", "khm-to-mys"])
    assert key == checkpoint_key("KHM", 4) == "audit/KHM/checkpoint-00000004.json"
    entry = log.entries()[-1]
    assert entry["event"] == "checkpoint" and entry["seq"] == 5 and entry["checkpoint_seq"] == 4
    assert entry["buckets"] == ["khm-to-tha", "khm-to-mys"]
    assert (log.checkpoints_dir / "checkpoint-00000004.json.minisig").is_file()

    # THA, the reader of khm-to-tha, checks KHM's log against what KHM published there
    for party, bucket in (("THA", "khm-to-tha"), ("MYS", "khm-to-mys")):
        checkpoint = fetch_latest_checkpoint(stores[party], bucket, "KHM", public)
        assert checkpoint.seq == 4
        assert verify_log(log.path, checkpoint).ok
    data = stores["THA"].get_bytes("khm-to-tha", key, 1 << 20)
    signature = stores["THA"].get_bytes("khm-to-tha", f"{key}.minisig", 1 << 20)
    assert load_checkpoint(data, signature, public).head == json.loads(data)["head"]

    # a partner without gcmx: minisign -V on the downloaded files
    (tmp_path / "latest.json").write_bytes(stores["THA"].get_bytes("khm-to-tha", latest_checkpoint_key("KHM"), 1 << 20))
    (tmp_path / "latest.json.minisig").write_bytes(
        stores["THA"].get_bytes("khm-to-tha", f"{latest_checkpoint_key('KHM')}.minisig", 1 << 20))
    done = subprocess.run(["minisign", "-V", "-m", str(tmp_path / "latest.json"), "-P", public.base64],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "party=KHM seq=4" in done.stdout

    # cutting the log below what THA holds is caught
    log.path.write_bytes(b"".join(log.path.read_bytes().splitlines(keepends=True)[:2]))
    checkpoint = fetch_latest_checkpoint(stores["THA"], "khm-to-tha", "KHM", public)
    assert not verify_log(log.path, checkpoint).ok


def test_checkpoint_into_a_foreign_bucket_is_refused_and_not_recorded(stores, khm):
    log, secret, _ = khm
    with pytest.raises(AccessDenied):
        publish_checkpoint(log, secret, stores["KHM"], ["tha-to-khm"])
    assert [e["event"] for e in log.entries()] == ["publish"] * 4


def _in_force_with(partner: str, home, khm_secret: SecretKey) -> None:
    """Sign every contract between KHM and ``partner`` by both (KOR's keys in KHM's keyring)."""
    files = generate_party_keys(partner, home / "keyring")
    (home / "keyring" / "KHM.minisign.pub").write_bytes((home / "keys" / "KHM.minisign.pub").read_bytes())
    (home / "keyring" / "KHM.age.pub").write_bytes((home / "keys" / "KHM.age.pub").read_bytes())
    secrets = {"KHM": khm_secret, partner: SecretKey.from_file(files.minisign_secret)}
    for contract in contracts_between("KHM", partner) + contracts_between(partner, "KHM"):
        for party, secret in secrets.items():
            sign_contract(contract, party, secret, home / "agreements")


def test_gcmx_audit_checkpoint(seaweed, stores, khm, tmp_path, monkeypatch):
    log, secret, public = khm
    _in_force_with("KOR", tmp_path, secret)
    credentials = seaweed.credentials["KHM"]
    for name, value in {"HOME": str(tmp_path), "PARTY": "KHM", "S3_ENDPOINT": seaweed.endpoint,
                        "S3_ACCESS_KEY_ID": credentials.access_key_id,
                        "S3_SECRET_ACCESS_KEY": credentials.secret_access_key}.items():
        monkeypatch.setenv(f"GCMX_{name}", value)
    group = _Group("gcmx")
    for command in COMMANDS:
        group.add_command(command)
    result = CliRunner().invoke(group, ["audit", "checkpoint", "--to", "KOR"])
    assert result.exit_code == 0, result.output
    assert "audit/KHM/checkpoint-00000004.json" in result.output and "khm-to-kor" in result.output
    assert fetch_latest_checkpoint(stores["KOR"], "khm-to-kor", "KHM", public).seq == 4
    result = CliRunner().invoke(group, ["audit", "verify", "--checkpoint",
                                        str(log.checkpoints_dir / "latest.json")])
    assert result.exit_code == 0 and "matches signed checkpoint seq 4" in result.output
