"""Signed checkpoints of the audit head, verification against them, and `gcmx audit verify`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from exchange.audit.log import AuditLog, load_checkpoint, make_checkpoint, verify_log
from exchange.cli import _Group
from exchange.cli.audit import COMMANDS
from exchange.crypto.keys import generate_party_keys
from exchange.crypto.minisign import SecretKey, generate_keypair
from exchange.errors import SignatureError


@pytest.fixture
def signer():
    return generate_keypair()


@pytest.fixture
def log(tmp_path) -> AuditLog:
    log = AuditLog.for_home(tmp_path, "KHM")
    for n in range(5):
        log.append("publish", exchange_id=f"e{n + 1}")
    return log


def _signed(log, secret, public) -> dict:
    return load_checkpoint(*make_checkpoint(log, secret), public)


def test_checkpoint_round_trip(log, signer):
    secret, public = signer
    data, signature = make_checkpoint(log, secret)
    checkpoint = load_checkpoint(data, signature, public)
    assert set(checkpoint.to_dict()) == {"party", "seq", "head", "time"}
    assert (checkpoint.seq, checkpoint.head) == log.head()
    assert data == checkpoint.to_json()
    assert f"party=KHM seq=5 head={checkpoint.head}" in signature.decode()
    assert verify_log(log.path, checkpoint).ok


def test_checkpoint_rejects_other_keys_and_edits(log, signer):
    secret, public = signer
    data, signature = make_checkpoint(log, secret)
    with pytest.raises(SignatureError):
        load_checkpoint(data, signature, generate_keypair()[1])
    with pytest.raises(SignatureError):
        load_checkpoint(data.replace(b'"seq":5', b'"seq":9'), signature, public)


def test_truncated_tail_is_caught_by_the_checkpoint(log, signer):
    checkpoint = _signed(log, *signer)
    lines = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(b"".join(lines[:3]))
    assert verify_log(log.path).ok  # the chain alone cannot see a cut tail
    verdict = verify_log(log.path, checkpoint)
    assert verdict.problems == ["line 4: log truncated: it ends at seq 3 but the signed checkpoint "
                                "covers seq 5"]


def test_consistently_rewritten_chain_is_caught_by_the_checkpoint(log, signer, tmp_path):
    checkpoint = _signed(log, *signer)
    original = log.entries()
    log.path.unlink()
    forger = AuditLog(log.path, "KHM")
    for entry in original:  # the same events with one detail changed, chained anew
        forger.append(entry["event"], exchange_id="forged" if entry["seq"] == 2 else entry["exchange_id"])
    assert verify_log(log.path).ok
    verdict = verify_log(log.path, checkpoint)
    assert verdict.problems == ["line 5: head at checkpoint seq 5 does not match the signed checkpoint: "
                                "the log was rewritten at or before seq 5"]


def test_entries_after_the_checkpoint_are_fine(log, signer):
    checkpoint = _signed(log, *signer)
    log.append("receipt", exchange_id="e1", status="accepted")
    assert verify_log(log.path, checkpoint).ok


def test_checkpoint_of_another_party(log, signer, tmp_path):
    other = AuditLog.for_home(tmp_path / "tha", "THA")
    other.append("land", exchange_id="e1")
    verdict = verify_log(log.path, _signed(other, *signer))
    assert verdict.problems == ["checkpoint: it is THA's but the log is KHM's"]


@pytest.fixture
def gcmx(monkeypatch, tmp_path):
    """The audit commands under the real gcmx error handling, with GCMX_HOME = tmp_path."""
    monkeypatch.setenv("GCMX_HOME", str(tmp_path))
    monkeypatch.setenv("GCMX_PARTY", "KHM")
    group = _Group("gcmx")
    for command in COMMANDS:
        group.add_command(command)
    return lambda *args: CliRunner().invoke(group, ["audit", *args])


def test_cli_verify_intact_and_tampered(gcmx, log):
    result = gcmx("verify")
    assert result.exit_code == 0 and "intact, 5 entries" in result.output
    lines = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(b"".join([lines[0]] + lines[2:]))
    result = gcmx("verify")
    assert result.exit_code == 1
    assert "line 2: seq jumps from 1 to 3" in result.output
    result = gcmx("verify", "--json", "--log", str(log.path))
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert problems == ["line 2: seq jumps from 1 to 3: 1 entry dropped before line 2"]


def test_cli_verify_against_a_checkpoint(gcmx, log, tmp_path):
    files = generate_party_keys("KHM", tmp_path / "keys")
    data, signature = make_checkpoint(log, SecretKey.from_file(files.minisign_secret))
    checkpoint = tmp_path / "latest.json"
    checkpoint.write_bytes(data)
    (tmp_path / "latest.json.minisig").write_bytes(signature)
    result = gcmx("verify", "--checkpoint", str(checkpoint))  # key found in GCMX_HOME/keys
    assert result.exit_code == 0 and "matches signed checkpoint seq 5" in result.output
    log.path.write_bytes(b"".join(log.path.read_bytes().splitlines(keepends=True)[:4]))
    result = gcmx("verify", "--checkpoint", str(checkpoint), "--public-key", str(files.minisign_public))
    assert result.exit_code == 1 and "log truncated" in result.output
    other = generate_keypair()[1].write(tmp_path / "other.pub")
    result = gcmx("verify", "--checkpoint", str(checkpoint), "--public-key", str(other))
    assert result.exit_code == 1 and "signed by key" in result.output  # a signature check failed


def test_cli_verify_missing_log(gcmx, tmp_path):
    result = gcmx("verify", "--log", str(tmp_path / "none.jsonl"))
    assert result.exit_code == 2 and "does not exist" in result.output


def test_audit_verify_uses_the_latest_local_checkpoint_by_default(gcmx, tmp_path):
    log = AuditLog.for_home(tmp_path, "KHM")
    for n in range(5):
        log.append("publish", exchange_id=f"e{n}")
    result = gcmx("verify")
    assert result.exit_code == 0 and "no signed checkpoint to check against" in result.output
    files = generate_party_keys("KHM", tmp_path / "keys")
    data, signature = make_checkpoint(log, SecretKey.from_file(files.minisign_secret))
    log.checkpoints_dir.mkdir(parents=True)
    (log.checkpoints_dir / "latest.json").write_bytes(data)
    (log.checkpoints_dir / "latest.json.minisig").write_bytes(signature)
    result = gcmx("verify")
    assert result.exit_code == 0 and "matches signed checkpoint seq 5" in result.output
    log.path.write_bytes(b"".join(log.path.read_bytes().splitlines(keepends=True)[:3]))
    result = gcmx("verify")  # the chain alone is intact; the checkpoint catches the cut tail
    assert result.exit_code == 1 and "log truncated" in result.output
