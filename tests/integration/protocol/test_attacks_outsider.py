"""Attacks tried from outside, end to end through ``gcmx`` on a real SeaweedFS (issue 11).

Each test is named by what the attacker holds: a leaked bucket key only (a boto3 client
with one party's S3 credentials: it can plant, overwrite and delete objects in that party's
buckets, but cannot sign), or a partner's own valid keys. Whatever is planted, the sender's
next ``gcmx publish`` / ``gcmx receipts`` and the recipient's ``gcmx pull`` must end with a
clear exit code (0 ok, 1 a check failed or an alarm, 2 terminal, 75 transient), never a
traceback, and must not block genuine exchanges.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from exchange.audit.log import AuditLog, Checkpoint, publish_checkpoint
from exchange.canonical import canonical_json
from exchange.cli import main
from exchange.clock import utc_now
from exchange.protocol.freshness import local_index
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import checkpoint_key, index_key, receipt_key
from exchange.protocol.receipts import Receipt
from tests.support.protocol import dataset, make_nodes, signed_exchange

CONTRACT = "children_on_the_move.khm-tha"
PERIODS = (f"{year}-{month:02d}" for year in range(2060, 2080) for month in range(1, 13))
SECRET_LOOKING = "AGE-SECRET-KEY-1QQQQ"  # text the audit log refuses as key material


@pytest.fixture(scope="module")
def nodes(seaweed, tmp_path_factory):
    """KHM, THA and MYS: KHM is paired with each of the others."""
    return make_nodes(seaweed, tmp_path_factory.mktemp("parties"), parties=("KHM", "THA", "MYS"))


def gcmx(seaweed, node, *args: str):
    """Run ``gcmx`` as ``node``'s party; an uncaught exception is never an acceptable outcome."""
    cred = seaweed.credentials[node.party]
    env = {"GCMX_PARTY": node.party, "GCMX_HOME": str(node.home), "GCMX_S3_ENDPOINT": seaweed.endpoint,
           "GCMX_S3_ACCESS_KEY_ID": cred.access_key_id, "GCMX_S3_SECRET_ACCESS_KEY": cred.secret_access_key}
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exc_info is None or isinstance(result.exc_info[1], SystemExit), result.exc_info
    return result


def events(node, event: str, **details) -> list[dict]:
    return [e for e in AuditLog.for_home(node.home, node.party).entries()
            if e["event"] == event and all(e.get(k) == v for k, v in details.items())]


def cli_publish(seaweed, node, contract: str, tmp_path, seed: int = 1):
    period = next(PERIODS)
    source = dataset(contract, tmp_path, period=period, seed=seed)
    return gcmx(seaweed, node, "publish", str(source), "--contract", contract, "--period", period), period


def outbound_record(node, period: str) -> dict:
    """The sender's own record of its exchange for ``period``."""
    records = [json.loads(p.read_text()) for p in node.home.glob("outbound/*/manifest.json")]
    return next(r for r in records if r["period"] == period)


def sign_into(seaweed, signer, bucket: str, fields: dict, plaintext: bytes, recipient_key: str,
              body_of=Manifest.to_json) -> Manifest:
    """A manifest over ``fields`` signed by ``signer`` (a partner with valid keys), with data
    encrypted to ``recipient_key``, written into ``bucket``."""
    return signed_exchange(seaweed.client(signer.party), bucket, signer, fields, plaintext, recipient_key, body_of)


def test_bucket_key_only_odd_key_before_the_first_pull_does_not_crash_it(seaweed, tmp_path):
    """A recipient that never decided anything from a partner meets an odd key on its first pull."""
    fresh = make_nodes(seaweed, tmp_path, parties=("KHM", "KOR"))
    khm, kor = fresh["KHM"], fresh["KOR"]
    seaweed.client("KHM").put_object(Bucket="khm-to-kor", Key="workers_deployed/not-a-period/x", Body=b"{}")
    published, period = cli_publish(seaweed, khm, "workers_deployed.khm-kor", tmp_path)
    assert published.exit_code == 0, published.output
    pulled = gcmx(seaweed, kor, "pull", "--from", "KHM")
    assert pulled.exit_code == 0, pulled.output
    assert f"landed   workers_deployed {period}" in pulled.output
    assert [e["reason"] for e in events(kor, "ignore")] == ["object key does not fit the wire layout"]


def test_bucket_key_only_secret_looking_key_in_senders_bucket_does_not_block_publish(seaweed, nodes, tmp_path):
    """A planted key spelled like key material must not stop the sender's alarm, nor every publish."""
    khm, tha = nodes["KHM"], nodes["THA"]
    planted = f"children_on_the_move/{SECRET_LOOKING}/manifest.json"
    seaweed.client("KHM").put_object(Bucket="khm-to-tha", Key=planted, Body=b"{}")
    try:
        for seed, code in ((1, 1), (2, 0)):  # the alarm makes the first run exit 1, once
            out, period = cli_publish(seaweed, khm, CONTRACT, tmp_path, seed)
            assert out.exit_code == code and "published:" in out.output, out.output
        alarms = events(khm, "alarm", kind="manifest-untrusted")
        assert len([a for a in alarms if "age-secret-key-1QQQQ" in a["where"]]) == 1  # once, defused
        pulled = gcmx(seaweed, tha, "pull", "--from", "KHM")
        assert pulled.exit_code == 0 and f"landed   children_on_the_move {period}" in pulled.output, pulled.output
    finally:
        seaweed.client("KHM").delete_object(Bucket="khm-to-tha", Key=planted)


def test_bucket_key_only_secret_looking_receipt_key_is_an_invalid_receipt(seaweed, nodes, tmp_path):
    khm = nodes["KHM"]
    out, period = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    eid = outbound_record(khm, period)["exchange_id"]
    key = f"receipts/{SECRET_LOOKING}/{period}/{eid}.json"
    attacker = seaweed.client("THA")  # THA's S3 key, not its signing key
    attacker.put_object(Bucket="tha-to-khm", Key=key, Body=b"{}")
    attacker.put_object(Bucket="tha-to-khm", Key=key + ".minisig", Body=b"not a signature")
    try:
        out = gcmx(seaweed, khm, "receipts", "--from", "THA")
        assert out.exit_code == 1 and f"invalid  {eid}" in out.output, out.output
        assert len(events(khm, "receipt", exchange_id=eid, status="invalid")) == 1
        assert gcmx(seaweed, khm, "receipts", "--from", "THA").exit_code == 0
    finally:
        attacker.delete_objects(Bucket="tha-to-khm", Delete={"Objects": [{"Key": key}, {"Key": key + ".minisig"}]})


def test_partner_with_valid_keys_secret_looking_text_is_rejected_and_audited(seaweed, nodes, tmp_path):
    """THA signs a manifest whose key id, and a receipt whose reason, read like key material."""
    khm, tha = nodes["KHM"], nodes["THA"]
    out, period = cli_publish(seaweed, tha, "returnees.tha-khm", tmp_path)
    assert out.exit_code == 0, out.output
    fields = {**outbound_record(tha, period), "exchange_id": "b" * 32, "sender_key_id": SECRET_LOOKING}
    forged = sign_into(seaweed, tha, "tha-to-khm", fields, b"never read", khm.public_keys("KHM").age_recipient)
    pulled = gcmx(seaweed, khm, "pull", "--from", "THA")
    assert pulled.exit_code == 1, pulled.output
    assert f"rejected returnees {period} {forged.exchange_id}" in pulled.output
    assert f"landed   returnees {period}" in pulled.output
    [entry] = events(khm, "reject", exchange_id=forged.exchange_id)
    assert "age-secret-key-1QQQQ" in entry["reason"]
    assert gcmx(seaweed, khm, "pull", "--from", "THA").exit_code == 0  # decided once

    sent, period = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    own = outbound_record(khm, period)
    doc = Receipt.answer(own["exchange_id"], own["dataset"], period, "KHM", "THA", False, SECRET_LOOKING, None,
                         hashlib.sha256(canonical_json(own)).hexdigest())
    key, body = receipt_key(own["dataset"], period, own["exchange_id"]), doc.to_json()
    seaweed.client("THA").put_object(Bucket="tha-to-khm", Key=key, Body=body)
    seaweed.client("THA").put_object(Bucket="tha-to-khm", Key=key + ".minisig",
                                     Body=tha.identity.signing_key.sign(body, doc.comment()))
    out = gcmx(seaweed, khm, "receipts", "--from", "THA")
    assert out.exit_code == 0 and f"rejected {own['exchange_id']}" in out.output, out.output
    [entry] = events(khm, "receipt", exchange_id=own["exchange_id"], direction="received")
    assert entry["status"] == "rejected" and entry["reason"] == "age-secret-key-1QQQQ"


def test_partner_with_valid_keys_manifest_with_a_huge_number_is_rejected(seaweed, nodes, tmp_path):
    """A signed manifest holding a 5000-digit number (over Python's int parsing limit) is a typed
    rejection, not a crash that blocks every later pull from that partner."""
    khm, tha = nodes["KHM"], nodes["THA"]
    out, period = cli_publish(seaweed, tha, "returnees.tha-khm", tmp_path)
    fields = {**outbound_record(tha, period), "exchange_id": "c" * 32}
    forged = sign_into(seaweed, tha, "tha-to-khm", fields, b"never read", khm.public_keys("KHM").age_recipient,
                       body_of=lambda m: m.to_json().replace(b'"revision":1', b'"revision":' + b"9" * 5000))
    pulled = gcmx(seaweed, khm, "pull", "--from", "THA")
    assert pulled.exit_code == 1, pulled.output
    assert f"rejected returnees {period} {forged.exchange_id}" in pulled.output
    assert f"landed   returnees {period}" in pulled.output
    assert events(khm, "reject", exchange_id=forged.exchange_id)
    assert gcmx(seaweed, khm, "pull", "--from", "THA").exit_code == 0


def test_bucket_key_only_taken_receipt_slot_goes_out_once_cleared(seaweed, nodes, tmp_path):
    """Junk planted with THA's S3 key where THA's receipt must go: THA alarms once and keeps the
    receipt pending; once the junk is removed the next pull sends it and KHM accepts it, although
    it had already seen (and refused) the junk at that very key."""
    khm, tha = nodes["KHM"], nodes["THA"]
    out, period = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    own = outbound_record(khm, period)
    key = receipt_key(own["dataset"], period, own["exchange_id"])
    attacker = seaweed.client("THA")
    attacker.put_object(Bucket="tha-to-khm", Key=key, Body=b'{"status":"accepted"}')
    attacker.put_object(Bucket="tha-to-khm", Key=key + ".minisig", Body=b"junk")
    pulled = gcmx(seaweed, tha, "pull", "--from", "KHM")
    assert pulled.exit_code == 1 and "receipt-slot-taken" in pulled.output, pulled.output
    assert gcmx(seaweed, tha, "pull", "--from", "KHM").exit_code == 0  # alarmed once, still pending
    assert len(events(tha, "alarm", kind="receipt-slot-taken", exchange_id=own["exchange_id"])) == 1
    refused = gcmx(seaweed, khm, "receipts", "--from", "THA")
    assert refused.exit_code == 1 and f"invalid  {own['exchange_id']}" in refused.output, refused.output
    attacker.delete_objects(Bucket="tha-to-khm", Delete={"Objects": [{"Key": key}, {"Key": key + ".minisig"}]})
    assert gcmx(seaweed, tha, "pull", "--from", "KHM").exit_code == 0
    assert events(tha, "receipt", direction="sent", exchange_id=own["exchange_id"], status="accepted")
    collected = gcmx(seaweed, khm, "receipts", "--from", "THA")
    assert collected.exit_code == 0 and f"accepted {own['exchange_id']}" in collected.output, collected.output
    assert (khm.home / "outbound" / own["exchange_id"] / "receipt.json").exists()
    assert own["exchange_id"] not in gcmx(seaweed, tha, "pull", "--from", "KHM").output  # answered


def test_partner_with_valid_keys_second_exchange_of_a_landed_revision_is_refused(seaweed, nodes, tmp_path):
    """KHM re-sends the data of a landed exchange under a new id and a higher sequence but the
    same revision: the same revision of a period never lands twice."""
    khm, tha = nodes["KHM"], nodes["THA"]
    out, period = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    assert gcmx(seaweed, tha, "pull", "--from", "KHM").exit_code == 0
    own = outbound_record(khm, period)
    client = seaweed.client("KHM")
    data = client.get_object(Bucket="khm-to-tha", Key=f"children_on_the_move/{period}/{own['exchange_id']}/"
                                                      "data.parquet.age")["Body"].read()
    replay = Manifest.from_json(canonical_json({**own, "exchange_id": "d" * 32, "sequence": own["sequence"] + 1}))
    body = replay.to_json()
    client.put_object(Bucket="khm-to-tha", Key=f"{replay.prefix}/data.parquet.age", Body=data)
    client.put_object(Bucket="khm-to-tha", Key=f"{replay.prefix}/manifest.json", Body=body)
    client.put_object(Bucket="khm-to-tha", Key=f"{replay.prefix}/manifest.json.minisig",
                      Body=khm.identity.signing_key.sign(body, replay.comment()))
    pulled = gcmx(seaweed, tha, "pull", "--from", "KHM")
    assert pulled.exit_code == 1 and f"rejected children_on_the_move {period} {'d' * 32}" in pulled.output
    assert "is not newer than landed" in pulled.output, pulled.output
    landed = tha.home / "landing" / "KHM" / "children_on_the_move" / period
    assert [p.name for p in landed.iterdir()] == [own["exchange_id"]]
    [entry] = events(tha, "reject", exchange_id="d" * 32)
    assert "not newer" in entry["reason"]


def test_odd_partner_codes_and_folders_are_usage_errors(seaweed, nodes, tmp_path):
    """What an operator types is checked before it names a bucket or a local folder: exit 2."""
    tha = nodes["THA"]
    for partner in ("../x", "", "KH", "K/M", "ÅÅÅ"):
        for command in ("pull", "receipts"):
            out = gcmx(seaweed, tha, command, "--from", partner)
            assert out.exit_code == 2 and "ISO alpha-3" in out.output, out.output
    assert not (tha.home.parent / "x").exists()
    out = gcmx(seaweed, tha, "verify", str(tmp_path), "--sender", "KHM")
    assert out.exit_code == 2 and "manifest.json, manifest.json.minisig, data.parquet.age missing" in out.output


def test_bucket_key_only_junk_beyond_the_index_does_not_switch_freshness_off(seaweed, nodes, tmp_path):
    """Junk planted at index/99999999.json is one alarm; an exchange withheld afterwards is still
    noticed (the index is checked up to the gap instead of not at all)."""
    khm, tha = nodes["KHM"], nodes["THA"]
    cli_publish(seaweed, khm, CONTRACT, tmp_path)
    gcmx(seaweed, tha, "pull", "--from", "KHM")
    attacker = seaweed.client("KHM")
    junk = ["index/99999999.json", "index/99999999.json.minisig"]
    for key in junk:
        attacker.put_object(Bucket="khm-to-tha", Key=key, Body=b"{}")
    try:
        out = gcmx(seaweed, tha, "pull", "--from", "KHM")
        assert out.exit_code == 1 and "index-invalid" in out.output and "99999999" in out.output, out.output
        _, period = cli_publish(seaweed, khm, CONTRACT, tmp_path)
        withheld = outbound_record(khm, period)["exchange_id"]
        attacker.delete_objects(Bucket="khm-to-tha", Delete={"Objects": [
            {"Key": f"children_on_the_move/{period}/{withheld}/{name}"}
            for name in ("data.parquet.age", "manifest.json", "manifest.json.minisig")]})
        out = gcmx(seaweed, tha, "pull", "--from", "KHM")
        assert out.exit_code == 1 and "exchange-withheld" in out.output and withheld in out.output, out.output
    finally:
        attacker.delete_objects(Bucket="khm-to-tha", Delete={"Objects": [{"Key": k} for k in junk]})


def test_bucket_key_only_junk_checkpoint_does_not_switch_witnessing_off(seaweed, nodes):
    """Junk planted as KHM's checkpoint 99999999 is one alarm; THA still witnesses KHM's genuine
    checkpoints after it, and still notices when one of them forks."""
    khm, tha = nodes["KHM"], nodes["THA"]
    log = AuditLog.for_home(khm.home, "KHM")
    publish_checkpoint(log, khm.identity.signing_key, khm.store, ["khm-to-tha"])
    gcmx(seaweed, tha, "pull", "--from", "KHM")
    attacker = seaweed.client("KHM")
    junk = checkpoint_key("KHM", 99_999_999)
    for suffix in ("", ".minisig"):
        attacker.put_object(Bucket="khm-to-tha", Key=junk + suffix, Body=b"{}")
    try:
        out = gcmx(seaweed, tha, "pull", "--from", "KHM")
        assert out.exit_code == 1 and "checkpoint-invalid" in out.output, out.output
        key = publish_checkpoint(log, khm.identity.signing_key, khm.store, ["khm-to-tha"])
        seq = int(key[-13:-5])
        assert gcmx(seaweed, tha, "pull", "--from", "KHM").exit_code == 0
        assert events(tha, "witness", party_witnessed="KHM", checkpoint_seq=seq)
        data = Checkpoint("KHM", seq, "ab" * 32, utc_now()).to_json()
        signature = khm.identity.signing_key.sign(data, f"gcmx audit checkpoint party=KHM seq={seq} head={'ab' * 32}")
        khm.store.put_bytes("khm-to-tha", key, data)  # KHM itself re-signs a rewritten log
        khm.store.put_bytes("khm-to-tha", key + ".minisig", signature)
        out = gcmx(seaweed, tha, "pull", "--from", "KHM")
        assert out.exit_code == 1 and "checkpoint-fork" in out.output, out.output
    finally:
        attacker.delete_objects(Bucket="khm-to-tha", Delete={"Objects": [{"Key": junk}, {"Key": junk + ".minisig"}]})


def test_bucket_key_only_taken_index_slot_is_alarmed_and_filled_once_cleared(seaweed, nodes, tmp_path):
    """Junk planted where KHM's next index entry goes: the publish still goes out but exits 1 with
    the alarm (once); once the junk is removed the next run uploads the held-back entries, and
    THA's freshness check reads an index without gaps."""
    khm, tha = nodes["KHM"], nodes["THA"]
    gcmx(seaweed, tha, "pull", "--from", "KHM")
    slot = index_key(len(local_index(khm, "THA")) + 1)
    attacker = seaweed.client("KHM")
    for suffix in ("", ".minisig"):
        attacker.put_object(Bucket="khm-to-tha", Key=slot + suffix, Body=b"{}")
    out, first = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    assert out.exit_code == 1 and "index-slot-taken" in out.output and "published:" in out.output, out.output
    out, second = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    assert out.exit_code == 0 and "published:" in out.output, out.output
    assert len(events(khm, "alarm", kind="index-slot-taken")) == 1
    attacker.delete_objects(Bucket="khm-to-tha", Delete={"Objects": [{"Key": slot}, {"Key": slot + ".minisig"}]})
    assert gcmx(seaweed, khm, "receipts", "--from", "THA").exit_code == 0
    pulled = gcmx(seaweed, tha, "pull", "--from", "KHM")
    assert pulled.exit_code == 0 and "ALARM" not in pulled.output, pulled.output
    seen = json.loads((tha.home / "freshness" / "from-KHM.json").read_text())["entries"]
    indexed = {json.loads(e)["exchange_id"] for e in seen}
    assert {outbound_record(khm, p)["exchange_id"] for p in (first, second)} <= indexed


def test_bucket_key_only_control_characters_in_a_planted_key_never_reach_the_terminal(seaweed, nodes, tmp_path):
    """A planted key with an escape sequence and a carriage return (which could hide or rewrite
    the ALARM line) is shown escaped by publish and pull, and audited escaped."""
    khm, tha = nodes["KHM"], nodes["THA"]
    planted = "children_on_the_move/2026-10/\x1b[8mhidden\rpublished ok\x1b[0m/manifest.json"
    seaweed.client("KHM").put_object(Bucket="khm-to-tha", Key=planted, Body=b"{}")
    try:
        out, _ = cli_publish(seaweed, khm, CONTRACT, tmp_path)
        assert out.exit_code == 1 and "manifest-untrusted" in out.output, out.output
        pulled = gcmx(seaweed, tha, "pull", "--from", "KHM")
        for result in (out, pulled):
            assert "\x1b" not in result.output and "\rpublished ok" not in result.output, result.output
        [alarm] = [a for a in events(khm, "alarm", kind="manifest-untrusted") if "hidden" in a["where"]]
        assert "\x1b" not in alarm["reason"] + alarm["where"] and "\r" not in alarm["reason"] + alarm["where"]
    finally:
        seaweed.client("KHM").delete_object(Bucket="khm-to-tha", Key=planted)


DEEP = b"[" * 50_000 + b"]" * 50_000  # valid JSON that Python's parser cannot descend into


def test_partner_with_valid_keys_deeply_nested_receipt_and_checkpoint_are_invalid(seaweed, nodes, tmp_path):
    """A receipt and an audit checkpoint signed by the partner but nested too deep to parse are
    invalid (audited, exit 1), not a traceback on every later run."""
    khm, tha = nodes["KHM"], nodes["THA"]
    _, period = cli_publish(seaweed, khm, CONTRACT, tmp_path)
    own = outbound_record(khm, period)
    key = receipt_key(own["dataset"], period, own["exchange_id"])
    doc = Receipt.answer(own["exchange_id"], own["dataset"], period, "KHM", "THA", True, "", None, "")
    seaweed.client("THA").put_object(Bucket="tha-to-khm", Key=key, Body=DEEP)
    seaweed.client("THA").put_object(Bucket="tha-to-khm", Key=key + ".minisig",
                                     Body=tha.identity.signing_key.sign(DEEP, doc.comment()))
    out = gcmx(seaweed, khm, "receipts", "--from", "THA")
    assert out.exit_code == 1 and f"invalid  {own['exchange_id']}" in out.output, out.output
    assert gcmx(seaweed, khm, "receipts", "--from", "THA").exit_code == 0

    seq = 99_999_998
    checkpoint = checkpoint_key("KHM", seq)
    khm.store.put_bytes("khm-to-tha", checkpoint, DEEP)
    khm.store.put_bytes("khm-to-tha", checkpoint + ".minisig", khm.identity.signing_key.sign(DEEP, "deep"))
    try:
        out = gcmx(seaweed, tha, "pull", "--from", "KHM")
        assert out.exit_code == 1 and "checkpoint-invalid" in out.output, out.output
    finally:
        seaweed.client("KHM").delete_objects(Bucket="khm-to-tha", Delete={"Objects": [
            {"Key": checkpoint}, {"Key": checkpoint + ".minisig"}]})


def test_bucket_key_only_deleted_data_is_rejected_then_sent_again_as_a_new_revision(seaweed, nodes, tmp_path):
    """The data of a genuine exchange deleted with KHM's bucket key before THA pulls: THA rejects
    it (signed receipt), and KHM's re-run of the same publish sends it again as revision 2,
    which lands: the deletion cannot block the genuine data for good."""
    khm, tha = nodes["KHM"], nodes["THA"]
    period = next(PERIODS)
    source = dataset(CONTRACT, tmp_path, period=period, seed=5)
    args = ("publish", str(source), "--contract", CONTRACT, "--period", period)
    assert gcmx(seaweed, khm, *args).exit_code == 0
    first = outbound_record(khm, period)
    seaweed.client("KHM").delete_object(Bucket="khm-to-tha",
                                        Key=f"children_on_the_move/{period}/{first['exchange_id']}/data.parquet.age")
    assert gcmx(seaweed, tha, "pull", "--from", "KHM").exit_code == 1
    assert gcmx(seaweed, khm, "receipts", "--from", "THA").exit_code in (0, 1)
    again = gcmx(seaweed, khm, *args)
    assert again.exit_code in (0, 1) and "no change" not in again.output, again.output
    records = [json.loads(p.read_text()) for p in khm.home.glob("outbound/*/manifest.json")]
    second = next(r for r in records if r["period"] == period and r["revision"] == 2)
    assert gcmx(seaweed, tha, "pull", "--from", "KHM").exit_code in (0, 1)
    landed = tha.home / "landing" / "KHM" / "children_on_the_move" / period
    assert [p.name for p in landed.iterdir()] == [second["exchange_id"]]
    assert gcmx(seaweed, khm, *args).output.count("no change") == 1  # now it is delivered: a no-op
