"""``make demo``'s partner session and ``KEEP=1``; ``make airflow`` destroys nothing earlier.

On a real SeaweedFS; nothing races the server: the kept server is stopped through the
state file the demo wrote, and the test waits for that exact process.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime

import pytest

from exchange.devkit import demo
from exchange.devkit.airflow_local import LocalAirflow
from exchange.devkit.kept_server import STATE, stop_kept
from exchange.devkit.seaweed import new_server
from exchange.protocol.outbound import publish
from exchange.settings import PROJECT_ROOT
from tests.support.protocol import dataset, make_nodes


def kept_demo_server(base):
    """A started demo SeaweedFS in ``base/s3``, as ``make demo KEEP=1`` leaves it."""
    server = new_server(base / "s3", demo.PARTIES, [demo.PARTIES]).start()
    demo.finish(server, keep=True)
    return server


def test_keep_leaves_seaweed_up_and_demo_stop_stops_exactly_it(tmp_path, capsys):
    base = tmp_path / "demo"
    server = kept_demo_server(base)
    process = server.process
    said = capsys.readouterr().out
    assert f"SeaweedFS stays up on {server.endpoint}" in said and "make demo-stop" in said
    assert process.poll() is None and server.client("THA").list_objects_v2(Bucket="khm-to-tha")

    assert demo.main(["--stop", "--dir", str(base)]) == 0
    assert capsys.readouterr().out.strip() == f"stopped SeaweedFS on {server.endpoint}"
    assert process.wait(timeout=1) is not None  # already gone: only reaped here
    assert not (base / "s3" / STATE).exists()
    assert demo.main(["--stop", "--dir", str(base)]) == 0
    assert "no SeaweedFS kept running" in capsys.readouterr().out


def test_the_next_demo_stops_a_kept_server_before_replacing_its_folder(tmp_path, capsys):
    base = tmp_path / "demo"
    process = kept_demo_server(base).process
    demo.replace_demo(base)
    assert "stopped the SeaweedFS an earlier `make demo KEEP=1` left" in capsys.readouterr().out
    assert process.wait(timeout=1) is not None and not base.exists()


def test_stop_never_signals_a_process_that_is_not_the_kept_server(tmp_path):
    folder = tmp_path / "s3"
    folder.mkdir()
    (folder / STATE).write_text(json.dumps({"pid": os.getpid(), "endpoint": "http://127.0.0.1:1",
                                            "data": str(folder / "data")}))
    assert stop_kept(folder) == "http://127.0.0.1:1"  # this test process is alive: it was not hit
    assert not (folder / STATE).exists() and stop_kept(folder) is None


def test_demo_partner_session_names_endpoint_exchange_and_a_credentials_file(seaweed, tmp_path):
    nodes = make_nodes(seaweed, tmp_path / "parties")
    src = dataset("workers_deployed.khm-tha", tmp_path, period="2025-06")
    result = publish(nodes["KHM"], src, "workers_deployed.khm-tha", "2025-06")
    airflow = {p: LocalAirflow(p, nodes[p].home, tmp_path / "airflow" / p, "{}") for p in demo.PARTIES}

    session = demo.partner_session(tmp_path, seaweed, airflow, classic=False)
    folder = tmp_path / "partner" / "THA"
    assert f"cd {folder} " in session and f"S3={seaweed.endpoint} " in session
    assert f"P=workers_deployed/2025-06/{result.exchange_id}\n" in session
    assert "age >= 1.3" in session and "gcmx decrypt -i THA.age" in session
    creds = seaweed.credentials["THA"]
    credentials = (folder / "credentials").read_text()
    assert creds.access_key_id in credentials and creds.secret_access_key in credentials
    assert stat.S_IMODE((folder / "credentials").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "THA.age").stat().st_mode) == 0o600
    assert (folder / "KHM.minisign.pub").read_bytes() == (nodes["KHM"].home / "keys" / "KHM.minisign.pub").read_bytes()
    assert "age -d -i THA.age" in demo.partner_session(tmp_path, seaweed, airflow, classic=True)


class SetupCalled(Exception):
    """Stops ``airflow_ui`` right where it would set up: nothing of Airflow runs."""


def test_make_airflow_keeps_the_demo_results_and_earlier_airflow_sessions(tmp_path, monkeypatch):
    earlier = {tmp_path / "demo" / "parties" / "KHM" / "landing" / "x.parquet": b"landed",
               tmp_path / "demo" / "parties" / "KHM" / "reports" / "KHM-report.html": b"<html>",
               tmp_path / "airflow" / "20261127T080000Z" / "parties" / "KHM" / "audit.jsonl": b"{}"}
    for path, content in earlier.items():
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    chosen = []

    def setup(base, period, classic=False):
        chosen.append(base)
        raise SetupCalled

    monkeypatch.setattr(demo, "setup", setup)
    monkeypatch.setattr(demo.signal, "signal", lambda *args: None)
    monkeypatch.setattr(demo, "AIRFLOW_DIR", tmp_path / "airflow")
    with pytest.raises(SetupCalled):
        demo.main(["--airflow"])
    assert chosen[0].parent == tmp_path / "airflow" and not chosen[0].exists()
    assert all(path.read_bytes() == content for path, content in earlier.items())


def test_a_new_airflow_session_folder_is_never_an_existing_one(tmp_path):
    now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    first = demo.new_session_folder(tmp_path, now)
    first.mkdir()
    second = demo.new_session_folder(tmp_path, now)
    assert first.name == "20261127T080000Z" and second.name == "20261127T080000Z-2"
    assert demo.AIRFLOW_DIR != demo.DEFAULT_DIR and demo.DEFAULT_DIR not in demo.AIRFLOW_DIR.parents


@pytest.mark.parametrize(("make_args", "options"), [
    (["demo"], []), (["demo", "KEEP=1"], ["--keep"]), (["demo", "KEEP=1", "CLASSIC=1"], ["--keep", "--classic"]),
    (["demo-stop"], ["--stop"]), (["airflow"], ["--airflow"])])
def test_make_targets_pass_their_options_to_the_demo(make_args, options):
    outer = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"}  # when the suite runs under `make test`
    env = {k: v for k, v in os.environ.items() if k not in outer}
    planned = subprocess.run(["make", "-n", "--no-print-directory", *make_args], capture_output=True, text=True,
                             check=True, cwd=PROJECT_ROOT, env=env).stdout
    assert planned.splitlines()[-1].split()[1:] == ["-m", "exchange.devkit.demo", *options]


def test_demo_options_reach_the_demo(monkeypatch, tmp_path):
    called = []
    monkeypatch.setattr(demo, "demo", lambda *args: called.append(args) or 0)
    assert demo.main(["--keep", "--classic", "--dir", str(tmp_path), "--period", "2026-10"]) == 0
    assert demo.main(["--dir", str(tmp_path), "--period", "2026-10"]) == 0
    assert called == [(tmp_path, "2026-10", True, True), (tmp_path, "2026-10", False, False)]
