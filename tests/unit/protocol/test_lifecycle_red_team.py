"""Red-team findings on key and data lifecycle (issue 15), each named by the attacker's capability."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from exchange import clock
from exchange.crypto.key_history import history_path, load_history
from exchange.crypto.shred import destroy_identity
from exchange.errors import ConfigError
from exchange.protocol.inbound import pull
from exchange.protocol.key_pickup import pick_up_key_statements
from exchange.protocol.key_rotation import publish_statements, revoke_key, rotate_keys
from exchange.protocol.outbound import publish
from exchange.protocol.retention import apply_retention
from tests.support.protocol import assert_quarantined, events, forge, manifest_doc, manifest_fields
from tests.support.rotation import retire_age_identity

CONTRACT = "children_on_the_move.khm-tha"


def _revoke(node, key_id, reason="laptop stolen", now=None):
    secret = node.settings.identity_dir / f"{node.party}.revocation.key"
    revoke_key(node.party, key_id, reason, secret, node.settings.identity_dir, node.settings.keyring_dir, now)
    return publish_statements(node, ["THA", "MYS"] if node.party == "KHM" else ["KHM"])


@pytest.mark.parametrize("bucket_copy_deleted", [False, True])
def test_stolen_signing_key_trusted_again_after_a_careless_officer_deletes_keys_json(nodes, store,
                                                                                      bucket_copy_deleted):
    """The revocation was picked up once; the partner's keys.json is then lost. The next pull must
    apply the revocation again (from the bucket, or from the kept copy when the thief deleted the
    bucket's), not trust the stolen key."""
    khm, tha = nodes["KHM"], nodes["THA"]
    stolen = khm.identity.signing_key.key_id
    _revoke(khm, stolen, now="2026-11-05T00:00:00.000Z")
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(stolen).revoked_at
    history_path("KHM", tha.settings.keyring_dir).unlink()  # a careless data officer
    if bucket_copy_deleted:
        for key in list(store.objects["khm-to-tha"]):
            if key.startswith("keys/"):
                store.delete("khm-to-tha", key)
    fields = manifest_fields(khm, tha, CONTRACT, "2026-10", "c" * 32, created="2026-11-06T00:00:00.000Z")
    manifest = forge(khm, tha, fields)  # the thief signs on with the stolen key
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(stolen).revoked_at
    [received] = pull(tha, "KHM")
    assert received.status == "rejected"
    assert_quarantined(tha, "KHM", manifest.prefix, "revoked")


YEAR = timedelta(days=365)
AFTER = 5 * YEAR + timedelta(days=3)  # past the contracts' 5 years (leap days included)


def _publish_dated(khm, source, monkeypatch, offset):
    """KHM publishes a genuine exchange whose signed ``created`` lies ``offset`` from when it appears."""
    from exchange.protocol import outbound

    monkeypatch.setattr(outbound, "utc_now", lambda: clock.format_time(clock.now() + offset))
    result = publish(khm, source(), CONTRACT, "2026-10")
    monkeypatch.undo()
    return result


def _landed(node, eid) -> list:
    return list((node.home / "landing").glob(f"*/*/*/{eid}"))


def test_partner_with_valid_keys_backdating_created_does_not_make_the_recipient_delete_at_once(
        nodes, source, monkeypatch):
    """A manifest dated six years before it appeared (a backdating sender, or its clock gone
    wrong): the recipient keeps it for the agreed retention from when it appeared."""
    khm, tha = nodes["KHM"], nodes["THA"]
    sent = _publish_dated(khm, source, monkeypatch, -6 * YEAR)
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    assert events(tha, "alarm", kind="manifest-time-skew")
    report = apply_retention(tha)
    assert not report.deleted and _landed(tha, sent.exchange_id)
    with clock.shifted(AFTER):
        assert [d["exchange_id"] for d in apply_retention(tha).deleted] == [sent.exchange_id]


def test_partner_with_valid_keys_postdating_created_does_not_extend_the_recipients_retention(
        nodes, source, monkeypatch):
    """A manifest dated six years after it appeared: the recipient still deletes it once the agreed
    retention has passed since it appeared, and its age key is not held hostage."""
    khm, tha = nodes["KHM"], nodes["THA"]
    sent = _publish_dated(khm, source, monkeypatch, 6 * YEAR)
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    with clock.shifted(AFTER):
        assert [d["exchange_id"] for d in apply_retention(tha).deleted] == [sent.exchange_id]
    assert not _landed(tha, sent.exchange_id)


def test_careless_officer_cannot_destroy_a_key_an_exchange_not_yet_pulled_needs(nodes, published):
    """KHM sent an exchange to THA's age key; THA rotated before pulling it. Destroying the retired
    key now would make the exchange unreadable: refused, and the exchange still lands."""
    tha = nodes["THA"]
    key_id = retire_age_identity(tha)
    with pytest.raises(ConfigError, match="not pulled yet") as err:
        destroy_identity(tha, key_id)
    assert published.exchange_id in err.value.message
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]


def test_bucket_key_only_planted_manifest_does_not_block_a_key_destruction(nodes, published, store):
    """A manifest whose signature does not verify says nothing about what THA needs."""
    tha = nodes["THA"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    key_id = retire_age_identity(tha)
    doc = manifest_doc(store, published.prefix)
    store.put_bytes("khm-to-tha", "children_on_the_move/2026-10/" + "9" * 32 + "/manifest.json",
                    json.dumps({**doc, "exchange_id": "9" * 32}).encode())
    store.put_bytes("khm-to-tha", "children_on_the_move/2026-10/" + "9" * 32 + "/manifest.json.minisig", b"x")
    with clock.shifted(AFTER):
        apply_retention(tha)
        assert not destroy_identity(tha, key_id).already


@pytest.mark.parametrize("crash_at", ["_save_own", "keep_statement"])
def test_careless_officer_interrupted_rotation_never_publishes_keys_it_lost_and_a_rerun_finishes(
        nodes, store, monkeypatch, crash_at):
    """`gcmx keys rotate` dies half-way (after the new secrets replaced the old ones, before the
    history was saved). `gcmx keys publish` must not announce a rotation the party's own history
    does not hold, and running `gcmx keys rotate` again finishes that very rotation."""
    from exchange.protocol import key_rotation

    khm, tha = nodes["KHM"], nodes["THA"]
    old = khm.identity.signing_key.key_id

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(key_rotation, crash_at, crash)
        with pytest.raises(KeyboardInterrupt):
            rotate_keys("KHM", khm.settings.identity_dir, khm.settings.keyring_dir)
    publish_statements(khm, ["THA"])
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).current("minisign").key_id == old
    rotate_keys("KHM", khm.settings.identity_dir, khm.settings.keyring_dir)  # the rerun
    khm.__dict__.pop("identity", None)
    new = khm.identity.signing_key
    assert new.key_id != old
    assert load_history("KHM", khm.settings.identity_dir).current("minisign").key_id == new.key_id
    publish_statements(khm, ["THA"])
    pick_up_key_statements(tha, "KHM")
    keys = tha.public_keys("KHM")
    assert keys.minisign.key_id == new.key_id
    assert keys.minisign.verify(b"after", new.sign(b"after", "after")) == "after"
    assert keys.age_recipient == khm.public_keys("KHM").age_recipient
    assert khm.identity.age_identities  # the new age identity opens what is encrypted to it


def test_bucket_key_only_squatting_the_revocation_slot_does_not_block_a_revocation(nodes, store):
    """Someone with a leaked bucket key plants junk at keys/revocation-{KEY}.json for the party's
    signing key, in advance: the party's revocation still reaches its partners."""
    from exchange.protocol.naming import revocation_key, signature_key

    khm, tha = nodes["KHM"], nodes["THA"]
    stolen = khm.identity.signing_key.key_id
    store.put_bytes("khm-to-tha", revocation_key(stolen), b'{"format": "junk"}')
    store.put_bytes("khm-to-tha", signature_key(revocation_key(stolen)), b"junk")
    pick_up_key_statements(tha, "KHM")  # refused and alarmed: nothing changes
    [statement, signature] = _revoke(khm, stolen)
    assert statement.replaced == signature.replaced == ("khm-to-tha",) and not statement.taken
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(stolen).revoked_at


def test_partner_with_valid_keys_reusing_an_exchange_id_cannot_get_another_senders_quarantine_deleted(
        nodes, store, published):
    """THA rejected an exchange MYS sent under id X (its quarantine copy is MYS's evidence); KHM's
    exchange X lands. When KHM's X reaches its retention, only KHM's copies of X go."""
    tha = nodes["THA"]
    eid, prefix = published.exchange_id, published.prefix
    store.put_bytes("mys-to-tha", f"{prefix}/manifest.json", b'{"format": "not a manifest"}')
    store.put_bytes("mys-to-tha", f"{prefix}/manifest.json.minisig", b"junk")
    [rejected] = pull(tha, "MYS")
    assert rejected.status == "rejected"
    evidence = [p for p in (tha.home / "quarantine").glob(f"{eid}*")
                if json.loads((p / "exchange.json").read_text())["sender"] == "MYS"]
    assert evidence
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    with clock.shifted(AFTER):
        assert [d["exchange_id"] for d in apply_retention(tha).deleted] == [eid]
    assert not _landed(tha, eid)
    assert all(p.is_dir() for p in evidence)  # MYS's rejected copy keeps its own retention


def test_stolen_signing_key_after_a_routine_rotation_cannot_land_a_backdated_exchange(
        nodes, store, source, tmp_path, monkeypatch):
    """A thief copied KHM's home; KHM then rotated (not knowing, so no revocation). The thief signs
    an exchange with the retired key, dated a minute before the rotation, and puts it now: it
    appears after the key was retired, so it is refused with an alarm."""
    import shutil

    from exchange.protocol import outbound
    from tests.support.protocol import nodes_on

    khm, tha = nodes["KHM"], nodes["THA"]
    thief = nodes_on({"KHM": Path(shutil.copytree(khm.home, tmp_path / "stolen"))}, store.as_party)["KHM"]
    rotated = clock.now()
    rotate_keys("KHM", khm.settings.identity_dir, khm.settings.keyring_dir, clock.format_time(rotated))
    publish_statements(khm, ["THA"])
    pick_up_key_statements(tha, "KHM")
    monkeypatch.setattr(outbound, "utc_now", lambda: clock.format_time(rotated - timedelta(minutes=1)))
    with clock.shifted(timedelta(hours=2)):  # the store's clock: it appears two hours after the rotation
        sent = publish(thief, source(), CONTRACT, "2026-10")
        [received] = pull(tha, "KHM")
    assert received.status == "rejected" and "retired" in received.reason
    assert_quarantined(tha, "KHM", sent.prefix, "retired")
    assert events(tha, "alarm", kind="retired-key-late-arrival", exchange_id=sent.exchange_id)


def test_careless_officer_revoking_again_does_not_move_the_revocation_time(nodes, store):
    """A second `gcmx keys revoke` of the same key (a rerun) must not replace the published
    revocation with a later-dated one: partners must keep the first time."""
    from exchange.protocol.naming import revocation_key

    khm, tha = nodes["KHM"], nodes["THA"]
    stolen = khm.identity.signing_key.key_id
    _revoke(khm, stolen, now="2026-11-05T00:00:00.000Z")
    first = store.objects["khm-to-tha"][revocation_key(stolen)]
    with pytest.raises(ConfigError, match="already revoked"):
        _revoke(khm, stolen, now="2026-11-20T00:00:00.000Z")
    publish_statements(khm, ["THA"])
    assert store.objects["khm-to-tha"][revocation_key(stolen)] == first
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(stolen).revoked_at == "2026-11-05T00:00:00.000Z"


def test_careless_officer_rotation_leaves_no_copy_of_the_old_age_secret_but_the_retired_one(nodes):
    """After a rotation the old age secret lives only in retired/ (which `keys destroy` shreds):
    the identity file's old bytes are overwritten, not just unlinked by a rename."""
    import os

    from exchange.crypto.keys import key_file_paths

    khm = nodes["KHM"]
    identity = key_file_paths("KHM", khm.settings.identity_dir).age_identity
    old = identity.read_text()
    witness = identity.with_name("hard-link-to-the-old-bytes")
    os.link(identity, witness)  # sees the very bytes the file had
    rotate_keys("KHM", khm.settings.identity_dir, khm.settings.keyring_dir)
    secret = [line for line in old.splitlines() if line.startswith("AGE-SECRET-KEY")][0]
    assert secret not in witness.read_text(errors="replace")
    witness.unlink()
    holders = [p for p in khm.home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert [p.parent.name for p in holders] == ["retired"]


def test_stolen_signing_key_rotation_in_the_victims_name_raises_an_alarm_at_the_victim(nodes, store):
    """A thief rotates KHM's stolen key to their own in KHM's bucket: THA follows (indistinguishable
    from a genuine rotation), but KHM's own next pull alarms, once, so it revokes at once."""
    from exchange.crypto import age
    from exchange.crypto.key_history import age_key_id
    from exchange.crypto.minisign import generate_keypair
    from exchange.protocol.key_statements import Rotation
    from exchange.protocol.naming import new_signature_key, rotation_key, signature_key

    khm = nodes["KHM"]
    stolen = khm.identity.signing_key
    thief, thief_public = generate_keypair()
    age_now = load_history("KHM", khm.settings.identity_dir).current("age")
    thief_age = age.to_recipient(age.generate_identity(post_quantum=False))
    rotation = Rotation("KHM", clock.utc_now(), stolen.key_id, age_now.key_id, thief_public.key_id,
                        thief_public.base64, age_key_id(thief_age), thief_age)
    key = rotation_key(stolen.key_id, thief_public.key_id)
    for name, data in ((key, rotation.to_json()),
                       (signature_key(key), stolen.sign(rotation.to_json(), rotation.comment())),
                       (new_signature_key(key), thief.sign(rotation.to_json(), rotation.comment()))):
        store.put_bytes("khm-to-tha", name, data)
    pull(khm, "THA")
    pull(khm, "THA")
    alarms = events(khm, "alarm", kind="key-statement-foreign")
    assert sorted(a["statement"] for a in alarms) == sorted([key, signature_key(key), new_signature_key(key)])
    assert "revoke" in alarms[0]["reason"]


def test_a_partys_own_published_statements_raise_no_alarm(nodes):
    khm = nodes["KHM"]
    rotate_keys("KHM", khm.settings.identity_dir, khm.settings.keyring_dir)
    publish_statements(khm, ["THA"])
    pull(khm, "THA")
    assert not events(khm, "alarm", kind="key-statement-foreign")
