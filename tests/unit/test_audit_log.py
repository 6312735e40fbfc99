"""The audit log's format, its refusals, and concurrent appends from several processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import subprocess

import pytest

from exchange.audit.log import GENESIS, AuditError, AuditLog, verify_log
from exchange.canonical import canonical_json


@pytest.fixture
def log(tmp_path) -> AuditLog:
    return AuditLog.for_home(tmp_path, "KHM")


def test_for_home_layout(tmp_path):
    log = AuditLog.for_home(tmp_path, "KHM")
    assert log.path == tmp_path / "audit" / "KHM.audit.jsonl"
    assert log.checkpoints_dir == tmp_path / "audit" / "checkpoints"


def test_entries_are_canonical_chained_lines(log):
    first = log.append("publish", exchange_id="e1", rows=10, ciphertext_sha256="ab" * 32)
    second = log.append("fetch", exchange_id="e1", bucket="khm-to-tha")
    lines = log.path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2
    assert [json.loads(line) for line in lines] == [first, second] == log.entries()
    assert lines[0] == canonical_json(first, ascii=True) + b"\n"
    assert first["seq"] == 1 and first["prev"] == GENESIS and first["party"] == "KHM"
    assert second["seq"] == 2 and second["prev"] == hashlib.sha256(lines[0]).hexdigest()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert log.head() == (2, hashlib.sha256(lines[1]).hexdigest())


def test_chain_checks_with_stock_tools(log):
    for n in range(3):
        log.append("land", exchange_id=f"e{n}")
    line_two = subprocess.run(["sed", "-n", "2p", str(log.path)], capture_output=True, check=True).stdout
    digest = subprocess.run(["sha256sum"], input=line_two, capture_output=True, check=True).stdout.split()[0]
    assert log.entries()[2]["prev"] == digest.decode()


def test_empty_log_head_and_entries(log):
    assert log.head() == (0, GENESIS)
    assert log.entries() == []
    assert verify_log(log.path).ok


@pytest.mark.parametrize("name", ["key", "signing_key", "secret", "age_secret", "password", "token",
                                  "identity", "s3SecretAccessKey", "private_keys"])
def test_secret_like_detail_names_are_refused(log, name):
    with pytest.raises(ValueError, match="named like a secret"):
        log.append("key_use", **{name: "x"})
    assert not log.path.exists()


def test_key_ids_and_nested_details_are_allowed(log):
    entry = log.append("key_use", purpose="sign manifest", key_id="A1B2C3", counts={"rows": 3},
                       parties={"THA", "KHM"})
    assert entry["key_id"] == "A1B2C3" and entry["parties"] == ["KHM", "THA"]


def test_key_material_values_and_reserved_names_are_refused(log):
    with pytest.raises(ValueError, match="key material"):
        log.append("key_use", reason="AGE-SECRET-KEY-1QQQ")
    with pytest.raises(ValueError, match="named like a secret"):
        log.append("key_use", details={"password": "x"})
    with pytest.raises(ValueError, match="may not set"):
        log.append("publish", seq=7)
    with pytest.raises(ValueError, match="lower-case name"):
        log.append("Publish everything")
    with pytest.raises(ValueError, match="unsupported type"):
        log.append("publish", blob=b"bytes")


def test_append_refuses_a_damaged_tail(log):
    log.append("publish", exchange_id="e1")
    with log.path.open("ab") as stream:
        stream.write(b'{"seq":2,"cut')
    with pytest.raises(AuditError, match="incomplete line"):
        log.append("publish", exchange_id="e2")


def test_append_refuses_another_partys_log(tmp_path):
    AuditLog.for_home(tmp_path, "KHM").append("publish", exchange_id="e1")
    with pytest.raises(AuditError, match="belongs to KHM"):
        AuditLog(tmp_path / "audit" / "KHM.audit.jsonl", "THA").append("publish")


def _append_many(path: str, worker: int, count: int, start: multiprocessing.Event) -> None:
    start.wait()
    log = AuditLog(path, "KHM")
    for n in range(count):
        log.append("fetch", exchange_id=f"w{worker}-{n}")


def test_concurrent_appends_from_processes_keep_one_chain(log):
    workers, count = 4, 40
    context = multiprocessing.get_context("fork")
    start = context.Event()
    processes = [context.Process(target=_append_many, args=(str(log.path), w, count, start))
                 for w in range(workers)]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    verdict = verify_log(log.path)
    assert verdict.ok, verdict.problems
    entries = log.entries()
    assert [e["seq"] for e in entries] == list(range(1, workers * count + 1))
    assert len({e["exchange_id"] for e in entries}) == workers * count
