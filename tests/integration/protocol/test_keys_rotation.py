"""Key rotation and revocation end to end on the real SeaweedFS, with the gcmx CLI and the stock
``minisign`` and ``age`` CLIs (issue 15, items 1-3)."""

from __future__ import annotations

import json
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from exchange.cli import main
from exchange.crypto.key_history import load_history
from exchange.protocol.manifest import recipient_key_id
from exchange.report import report_html
from tests.support.protocol import assert_quarantined, dataset, events, make_nodes, manifest_fields, signed_objects

CONTRACT = "children_on_the_move.khm-tha"
BUCKET = "khm-to-tha"


@pytest.fixture(scope="module")
def nodes(seaweed, tmp_path_factory):
    """KHM and THA with X25519 age keys, so the stock age CLI can decrypt."""
    return make_nodes(seaweed, tmp_path_factory.mktemp("parties"), classic=True)


@pytest.fixture(scope="module")
def env_for(seaweed, nodes):
    def env(party: str) -> dict[str, str]:
        cred = seaweed.credentials[party]
        return {"GCMX_PARTY": party, "GCMX_HOME": str(nodes[party].home), "GCMX_S3_ENDPOINT": seaweed.endpoint,
                "GCMX_S3_ACCESS_KEY_ID": cred.access_key_id, "GCMX_S3_SECRET_ACCESS_KEY": cred.secret_access_key}
    return env


def _run(args: list[str], env: dict) -> str:
    out = CliRunner().invoke(main, args, env=env)
    assert out.exit_code == 0, out.output
    return out.output


def _publish(env: dict, tmp_path, period: str) -> str:
    src = dataset(CONTRACT, tmp_path / period, period=period)
    out = _run(["publish", str(src), "--contract", CONTRACT, "--period", period], env)
    return out.split("published: ")[1].split()[0]


def _download(seaweed, exchange_id: str, period: str, folder):
    folder.mkdir()
    for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig"):
        seaweed.client("THA").download_file(BUCKET, f"children_on_the_move/{period}/{exchange_id}/{name}",
                                            str(folder / name))
    return folder


@pytest.fixture(scope="module")
def rotated(seaweed, nodes, env_for, tmp_path_factory):
    """Publish with the old keys; both parties rotate; publish with the new keys; pull; receipts."""
    tmp = tmp_path_factory.mktemp("rotation")
    khm, tha = nodes["KHM"], nodes["THA"]
    old = {"KHM": khm.identity.signing_key.public_key, "THA": tha.identity.signing_key.public_key,
           "THA_age": tha.public_keys("THA").age_recipient}
    old_secret = khm.identity.signing_key  # what a thief copied before the rotation
    first = _publish(env_for("KHM"), tmp, "2025-11")
    _run(["pull", "--from", "KHM"], env_for("THA"))
    _run(["receipts", "--from", "THA"], env_for("KHM"))
    old_folder = _download(seaweed, first, "2025-11", tmp / "old")
    rotated_out = {p: _run(["keys", "rotate"], env_for(p)) for p in ("KHM", "THA")}
    _run(["receipts", "--from", "THA"], env_for("KHM"))  # picks up THA's rotation: encrypt to its new key
    second = _publish(env_for("KHM"), tmp, "2025-12")
    pulled = _run(["pull", "--from", "KHM"], env_for("THA"))
    receipts = _run(["receipts", "--from", "THA"], env_for("KHM"))
    return SimpleNamespace(first=first, second=second, old=old, old_secret=old_secret, old_folder=old_folder,
                           pulled=pulled,
                           receipts=receipts, rotated_out=rotated_out, tmp=tmp)


def test_rotation_end_to_end_old_and_new_exchanges_verify(rotated, nodes, seaweed, env_for):
    khm, tha = nodes["KHM"], nodes["THA"]
    assert f"landed   children_on_the_move 2025-12 {rotated.second}" in rotated.pulled
    assert f"accepted {rotated.second}" in rotated.receipts
    new_manifest = json.loads((tha.home / "landing/KHM/children_on_the_move/2025-12" / rotated.second
                               / "manifest.json").read_text())
    khm_now = load_history("KHM", khm.settings.identity_dir).current("minisign").key_id
    tha_now = load_history("THA", tha.settings.identity_dir).current("age")
    assert new_manifest["sender_key_id"] == khm_now != rotated.old["KHM"].key_id
    assert new_manifest["recipients"][0]["key_id"] == tha_now.key_id  # the recipient's current key
    assert tha_now.key_id != recipient_key_id(rotated.old["THA_age"])
    keyring = load_history("KHM", tha.settings.keyring_dir)
    assert [k.current for k in keyring.of_kind("minisign")] == [False, True]
    assert events(tha, "key_added", of="KHM") and events(khm, "key_added", of="THA")
    assert events(khm, "key_rotated", of="KHM")


def test_the_old_exchange_and_its_receipt_still_verify_in_the_report_and_gcmx_verify(rotated, nodes, env_for):
    tha, khm = nodes["THA"], nodes["KHM"]
    retired = next((tha.settings.identity_dir / "retired").glob("THA.*.age"))
    checked = json.loads(_run(["verify", str(rotated.old_folder), "--partner", "KHM", "--json", "--identity",
                               str(retired)], env_for("THA")))
    assert checked["signature"] == "valid" and checked["plaintext_sha256"] == "matches"
    assert checked["key_id"] == rotated.old["KHM"].key_id
    for node, signer in ((tha, "KHM"), (khm, "THA")):
        _, data = report_html(node.home, node.party, (node.settings.keyring_dir, node.settings.identity_dir))
        checks = {(s["exchange_id"], s["what"]): s for s in data["keys"]["signatures"]}
        what = "manifest" if signer == "KHM" else "receipt"
        assert checks[(rotated.first, what)]["status"] == "valid"
        assert checks[(rotated.first, what)]["key_id"] == rotated.old[signer].key_id
        assert checks[(rotated.second, what)]["status"] == "valid"
        html, _ = report_html(node.home, node.party, (node.settings.keyring_dir, node.settings.identity_dir))
        assert "Keys over time" in html


def test_stock_minisign_and_age_clis_check_the_rotation_and_the_old_exchange(rotated, nodes, seaweed, tmp_path):
    tha = nodes["THA"]
    old_pub = rotated.old["KHM"].write(tmp_path / "KHM.old.minisign.pub")
    folder = rotated.old_folder
    subprocess.run(["minisign", "-Vm", str(folder / "manifest.json"), "-p", str(old_pub)], check=True,
                   capture_output=True)
    statements = tha.settings.keyring_dir / "statements" / "KHM"
    [statement] = statements.glob("rotation-*.json")
    subprocess.run(["minisign", "-Vm", str(statement), "-p", str(old_pub)], check=True, capture_output=True)
    new_pub = tha.settings.keyring_dir / "KHM.minisign.pub"
    shutil.copy(statement.with_name(statement.name + ".new.minisig"), tmp_path / "statement.json.minisig")
    shutil.copy(statement, tmp_path / "statement.json")
    subprocess.run(["minisign", "-Vm", str(tmp_path / "statement.json"), "-p", str(new_pub)], check=True,
                   capture_output=True)
    retired = next((tha.settings.identity_dir / "retired").glob("THA.*.age"))
    plain = subprocess.run(["age", "-d", "-i", str(retired), str(folder / "data.parquet.age")], check=True,
                           capture_output=True).stdout
    assert plain[:4] == b"PAR1"


def test_agreements_survive_rotation(rotated, nodes, env_for):
    for party in ("KHM", "THA"):
        [row] = json.loads(_run(["contract", "status", CONTRACT, "--json"], env_for(party)))["contracts"]
        assert row["state"] == "in force", row


def test_revocation_an_exchange_signed_after_it_is_rejected_and_quarantined(rotated, nodes, seaweed, env_for):
    khm, tha = nodes["KHM"], nodes["THA"]
    old_key = rotated.old["KHM"].key_id
    out = _run(["keys", "revoke", old_key, "--reason", "staff left with a copy"], env_for("KHM"))
    assert f"revoked KHM key {old_key}" in out
    fields = manifest_fields(khm, tha, CONTRACT, "2026-01", "c" * 32, created="2099-01-01T00:00:00.000Z",
                             sender_key_id=old_key)
    thief = SimpleNamespace(identity=SimpleNamespace(signing_key=rotated.old_secret))
    _, objects = signed_objects(thief, fields, b"PAR1 never read", tha.public_keys("THA").age_recipient)
    for key, body in objects.items():
        seaweed.client("KHM").put_object(Bucket=BUCKET, Key=key, Body=body)
    result = CliRunner().invoke(main, ["pull", "--from", "KHM"], env=env_for("THA"))
    assert "rejected" in result.output, result.output
    assert_quarantined(tha, "KHM", f"children_on_the_move/2026-01/{'c' * 32}", "revoked at")
    [revoked] = events(tha, "key_revoked", of="KHM")
    assert revoked["key_id"] == old_key
    # the revoked key still verifies what it signed before the revocation
    _, data = report_html(tha.home, "THA", (tha.settings.keyring_dir, tha.settings.identity_dir))
    first = next(s for s in data["keys"]["signatures"] if s["exchange_id"] == rotated.first)
    assert first["status"] == "valid" and "revoked since" in first["note"]
    html, _ = report_html(tha.home, "THA", (tha.settings.keyring_dir, tha.settings.identity_dir))
    assert "staff left with a copy" in html and "key_revoked" in html
