"""`gcmx publish / pull / receipts / verify / audit verify` against the real SeaweedFS."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from exchange.cli import main
from tests.support.protocol import dataset


@pytest.fixture
def env_for(seaweed, nodes):
    def env(party: str) -> dict[str, str]:
        cred = seaweed.credentials[party]
        return {"GCMX_PARTY": party, "GCMX_HOME": str(nodes[party].home),
                "GCMX_S3_ENDPOINT": seaweed.endpoint, "GCMX_S3_ACCESS_KEY_ID": cred.access_key_id,
                "GCMX_S3_SECRET_ACCESS_KEY": cred.secret_access_key}
    return env


def test_publish_pull_receipts_verify_by_hand(env_for, seaweed, nodes, tmp_path):
    runner = CliRunner()
    src = dataset("children_on_the_move.khm-tha", tmp_path, period="2025-11")
    out = runner.invoke(main, ["publish", str(src), "--contract", "children_on_the_move.khm-tha",
                               "--period", "2025-11"], env=env_for("KHM"))
    assert out.exit_code == 0, out.output
    assert "published:" in out.output and "s3://khm-to-tha/children_on_the_move/2025-11/" in out.output
    again = runner.invoke(main, ["publish", str(src), "--contract", "children_on_the_move.khm-tha",
                                 "--period", "2025-11"], env=env_for("KHM"))
    assert "already published" in again.output
    exchange_id = out.output.split("published: ")[1].split()[0]

    pulled = runner.invoke(main, ["pull", "--from", "KHM"], env=env_for("THA"))
    assert pulled.exit_code == 0, pulled.output
    assert f"landed   children_on_the_move 2025-11 {exchange_id}" in pulled.output
    receipts = runner.invoke(main, ["receipts", "--from", "THA"], env=env_for("KHM"))
    assert f"accepted {exchange_id}" in receipts.output

    folder = tmp_path / "download"
    folder.mkdir()
    client = seaweed.client("THA")
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        client.download_file("khm-to-tha", f"children_on_the_move/2025-11/{exchange_id}/{name}",
                             str(folder / name))
    checked = runner.invoke(main, ["verify", str(folder), "--partner", "KHM", "--json", "--identity",
                                   str(nodes["THA"].home / "keys" / "THA.age")], env=env_for("THA"))
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["plaintext_sha256"] == "matches"
    audit = runner.invoke(main, ["audit", "verify"], env=env_for("THA"))
    assert audit.exit_code == 0, audit.output


def test_breach_by_hand_is_one_clear_line(env_for, tmp_path):
    src = dataset("children_on_the_move.khm-tha", tmp_path, period="2025-10", violations=["missing_column"])
    out = CliRunner().invoke(main, ["publish", str(src), "--contract", "children_on_the_move.khm-tha",
                                    "--period", "2025-10"], env=env_for("KHM"))
    assert out.exit_code == 1  # a check failed: the file breaks its contract
    assert "breaks contract children_on_the_move.khm-tha" in out.output and "Traceback" not in out.output


def test_every_reporting_command_prints_one_json_document(env_for, seaweed, nodes, tmp_path):
    """--json: stdout is exactly one JSON document (progress and alarms go to stderr)."""
    runner = CliRunner()

    def run(party: str, *args: str) -> dict:
        result = runner.invoke(main, [*args, "--json"], env=env_for(party))
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    src = dataset("children_on_the_move.khm-tha", tmp_path, period="2025-12")
    published = run("KHM", "publish", str(src), "--contract", "children_on_the_move.khm-tha", "--period", "2025-12")
    assert published["ok"] and published["created_now"] and published["validation"]["success"]
    exchange_id = published["exchange_id"]
    pulled = run("THA", "pull", "--partner", "KHM")
    assert {(x["status"], x["exchange_id"]) for x in pulled["exchanges"]} >= {("landed", exchange_id)}
    receipts = run("KHM", "receipts", "--partner", "THA")
    assert ("accepted", exchange_id) in {(r["status"], r["exchange_id"]) for r in receipts["receipts"]}
    assert run("THA", "audit", "verify")["ok"] is True

    folder = tmp_path / "download"
    folder.mkdir()
    client = seaweed.client("THA")
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        client.download_file("khm-to-tha", f"{published['prefix']}/{name}", str(folder / name))
    assert run("THA", "verify", str(folder), "--partner", "KHM")["exchange_id"] == exchange_id
    data = bytearray((folder / "data.parquet.age").read_bytes())
    data[-20] ^= 1
    (folder / "data.parquet.age").write_bytes(bytes(data))
    tampered = runner.invoke(main, ["verify", str(folder), "--partner", "KHM", "--json"], env=env_for("THA"))
    assert tampered.exit_code == 1 and "Traceback" not in tampered.output  # a check failed: tampered
    document = json.loads(tampered.stdout)
    assert document["ok"] is False and document["exit_code"] == 1 and "SHA-256" in document["error"]["message"]
