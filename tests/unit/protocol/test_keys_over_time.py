"""Key history, rotation and revocation statements on the in-memory store (issue 15, items 1-3)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.contract.agreement import in_force
from exchange.contract.model import load_contract
from exchange.crypto import age
from exchange.crypto.key_history import KeyHistory, KeyRecord, TrustedKeys, age_key_id, load_history
from exchange.crypto.keys import generate_party_keys, load_identity, load_public_keys
from exchange.crypto.minisign import generate_keypair
from exchange.errors import ConfigError, ContractError, ProtocolError, SignatureError
from exchange.protocol.inbound import pull
from exchange.protocol.key_pickup import KEY_ADDED, KEY_REVOKED, KEY_STATEMENT_REJECTED, pick_up_key_statements
from exchange.protocol.key_rotation import publish_statements, revoke_key, rotate_keys
from exchange.protocol.key_statements import Revocation, Rotation
from exchange.protocol.limits import STATEMENT_MAX
from exchange.protocol.naming import (
    new_signature_key,
    parse_revocation_key,
    parse_rotation_key,
    revocation_key,
    rotation_key,
    signature_key,
)
from exchange.protocol.outbound import publish
from tests.support.protocol import assert_quarantined, events, forge, manifest_fields

CONTRACT = "children_on_the_move.khm-tha"
BUCKET = "khm-to-tha"


def _rotate(node, now=None):
    objects = rotate_keys(node.party, node.settings.identity_dir, node.settings.keyring_dir, now)
    node.__dict__.pop("identity", None)  # the cached secret keys are the old ones
    publish_statements(node, ["THA", "MYS"] if node.party == "KHM" else ["KHM"])
    return objects


def _revoke(node, key_id, reason="laptop stolen", now=None):
    secret = node.settings.identity_dir / f"{node.party}.revocation.key"
    objects = revoke_key(node.party, key_id, reason, secret, node.settings.identity_dir,
                         node.settings.keyring_dir, now)
    publish_statements(node, ["THA", "MYS"] if node.party == "KHM" else ["KHM"])
    return objects


# --- naming and wire objects --------------------------------------------------------------------

_ID = st.text("0123456789ABCDEF", min_size=1, max_size=16)


@given(_ID, _ID)
def test_statement_keys_round_trip(old, new):
    assert parse_rotation_key(rotation_key(old, new)) == (old, new)
    assert parse_revocation_key(revocation_key(old)) == old
    assert parse_rotation_key(signature_key(rotation_key(old, new))) is None
    assert parse_rotation_key(new_signature_key(rotation_key(old, new))) is None


@given(st.text(max_size=60))
def test_odd_statement_keys_do_not_parse(key):
    parsed = parse_rotation_key(key)
    assert parsed is None or rotation_key(*parsed) == key
    assert parse_revocation_key(key) is None or revocation_key(parse_revocation_key(key)) == key


def test_a_statement_key_is_never_formatted_from_a_non_key_id():
    with pytest.raises(ProtocolError):
        rotation_key("../x", "AB")


def test_statements_are_read_strictly():
    revocation = Revocation("KHM", "AB12", "minisign", "2026-11-01T00:00:00.000Z", "stolen")
    assert Revocation.from_json(revocation.to_json()) == revocation
    doc = json.loads(revocation.to_json())
    for bad in ({**doc, "extra": 1}, {**doc, "reason": "a\nb"}, {**doc, "kind": "revocation"},
                {**doc, "revoked_at": "yesterday"}, {k: v for k, v in doc.items() if k != "successor"}):
        with pytest.raises(ProtocolError):
            Revocation.from_json(json.dumps(bad))
    with pytest.raises(ProtocolError):
        Rotation.from_json(b"[]")


# --- key history ---------------------------------------------------------------------------------

def test_an_old_keyring_without_history_behaves_as_before(tmp_path):
    generate_party_keys("KHM", tmp_path)
    history = load_history("KHM", tmp_path)
    assert [k.kind for k in history.keys] == ["age", "minisign", "revocation"]
    assert all(k.current and not k.valid_from for k in history.keys)
    keys = load_public_keys("KHM", tmp_path)
    assert keys.minisign == load_identity("KHM", tmp_path).signing_key.public_key
    assert KeyHistory.from_json(history.to_json()) == history


def test_a_damaged_history_file_is_a_config_error(tmp_path):
    generate_party_keys("KHM", tmp_path)
    (tmp_path / "KHM.keys.json").write_text('{"format": "gcmx-keys/1", "party": "KHM", "keys": [{}]}')
    with pytest.raises(ConfigError, match="KHM.keys.json"):
        load_public_keys("KHM", tmp_path)


def test_a_revoked_key_verifies_only_what_it_signed_before_its_revocation():
    secret, public = generate_keypair()
    record = KeyRecord("minisign", public.key_id, public.base64, revoked_at="2026-11-10T00:00:00.000Z",
                       reason="stolen")
    keys = TrustedKeys(KeyHistory("KHM", (record,)))
    signature = secret.sign(b"data", "c")
    assert keys.verify_at(b"data", signature, signed_at="2026-11-09T00:00:00.000Z") == "c"
    for when in ("2026-11-10T00:00:00.000Z", None):
        with pytest.raises(SignatureError, match="revoked"):
            keys.verify_at(b"data", signature, signed_at=when)


# --- rotation ------------------------------------------------------------------------------------

def test_rotation_is_picked_up_and_what_the_old_key_signed_still_verifies(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    old = khm.identity.signing_key
    before = old.sign(b"signed before", "before")
    _rotate(khm)
    new = khm.identity.signing_key
    assert new.key_id != old.key_id
    assert pick_up_key_statements(tha, "KHM") == [rotation_key(old.key_id, new.key_id)]
    keys = tha.public_keys("KHM")
    assert keys.minisign.key_id == new.key_id
    assert keys.minisign.verify(b"signed before", before) == "before"
    assert keys.minisign.verify(b"after", new.sign(b"after", "after")) == "after"
    assert keys.age_recipient == khm.public_keys("KHM").age_recipient  # encrypted to the current key
    [added] = events(tha, KEY_ADDED, of="KHM")
    assert (added["old_key_id"], added["new_key_id"]) == (old.key_id, new.key_id)
    assert pick_up_key_statements(tha, "KHM") == []  # applied once


def test_old_exchanges_still_decrypt_after_the_recipient_rotates(nodes):
    tha = nodes["THA"]
    old_ids = set(tha.identity.age_identities)
    _rotate(tha)
    assert old_ids < set(tha.identity.age_identities)  # current + retired
    assert len(list((tha.settings.identity_dir / "retired").glob("THA.*.age"))) == 1


def test_agreements_stay_in_force_across_a_rotation(nodes, source):
    khm, tha = nodes["KHM"], nodes["THA"]
    _rotate(khm)
    _rotate(tha)
    pick_up_key_statements(khm, "THA")
    pick_up_key_statements(tha, "KHM")
    contract = load_contract(CONTRACT, khm.settings.contracts)
    for node in (khm, tha):
        keys = {p: node.public_keys(p).minisign for p in ("KHM", "THA")}
        assert in_force(contract, node.agreements_dir, keys)
    result = publish(khm, source(), CONTRACT, "2026-10")
    [received] = pull(tha, "KHM")
    assert received.status == "landed" and received.exchange_id == result.exchange_id


def test_bucket_key_only_rotation_signed_by_new_key_only_is_rejected(nodes, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    attacker, attacker_public = generate_keypair()
    rotation = Rotation("KHM", "2026-11-01T00:00:00.000Z", khm.identity.signing_key.key_id,
                        load_history("KHM", tha.settings.keyring_dir).current("age").key_id,
                        attacker_public.key_id, attacker_public.base64, "0" * 16, "age1" + "q" * 58)
    key = rotation_key(rotation.old_minisign, rotation.new_minisign)
    body = rotation.to_json()
    for name, data in ((key, body), (signature_key(key), attacker.sign(body, rotation.comment())),
                       (new_signature_key(key), attacker.sign(body, rotation.comment()))):
        store.put_bytes(BUCKET, name, data)
    assert pick_up_key_statements(tha, "KHM") == []
    assert tha.public_keys("KHM").minisign.key_id == khm.identity.signing_key.key_id
    [rejected] = events(tha, KEY_STATEMENT_REJECTED, of="KHM")
    assert "not signed by a key of KHM this node trusts" in rejected["reason"]
    assert events(tha, "alarm", kind="key-statement-invalid")
    pick_up_key_statements(tha, "KHM")
    assert len(events(tha, "alarm", kind="key-statement-invalid")) == 1  # alarmed once


def test_bucket_key_only_oversized_or_malformed_statements_are_refused_unread(nodes, store):
    tha = nodes["THA"]
    key = rotation_key("AB", "CD")
    store.put_bytes(BUCKET, key, b"{" * (STATEMENT_MAX + 1))
    store.put_bytes(BUCKET, signature_key(key), b"x")
    store.put_bytes(BUCKET, new_signature_key(key), b"x")
    bad = revocation_key("EF")
    store.put_bytes(BUCKET, bad, b'{"format": "gcmx-key-revocation/1"}')
    store.put_bytes(BUCKET, signature_key(bad), b"x")
    before = load_history("KHM", tha.settings.keyring_dir)
    assert pick_up_key_statements(tha, "KHM") == []
    assert load_history("KHM", tha.settings.keyring_dir) == before
    assert len(events(tha, KEY_STATEMENT_REJECTED, of="KHM")) == 2


def test_bucket_key_only_replayed_rotation_changes_nothing(nodes, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    first = _rotate(khm)
    pick_up_key_statements(tha, "KHM")
    _rotate(khm)
    pick_up_key_statements(tha, "KHM")
    after = load_history("KHM", tha.settings.keyring_dir)
    for key, data in first.items():  # the old statement written again under a fresh name is stale
        store.put_bytes(BUCKET, key, data)
    assert pick_up_key_statements(tha, "KHM") == []
    assert load_history("KHM", tha.settings.keyring_dir) == after


# --- revocation ----------------------------------------------------------------------------------

def test_partner_with_valid_keys_cannot_revoke_with_its_signing_key(nodes, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    key_id = khm.identity.signing_key.key_id
    revocation = Revocation("KHM", key_id, "minisign", "2026-11-01T00:00:00.000Z", "forged")
    store.put_bytes(BUCKET, revocation_key(key_id), revocation.to_json())
    store.put_bytes(BUCKET, signature_key(revocation_key(key_id)),
                    khm.identity.signing_key.sign(revocation.to_json(), revocation.comment()))
    pick_up_key_statements(tha, "KHM")
    assert not load_history("KHM", tha.settings.keyring_dir).find(key_id).revoked_at
    assert "not by KHM's revocation key" in events(tha, KEY_STATEMENT_REJECTED)[0]["reason"]


def test_an_exchange_signed_after_the_revocation_is_rejected_and_quarantined(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    key_id = khm.identity.signing_key.key_id
    _revoke(khm, key_id, now="2026-11-05T00:00:00.000Z")
    fields = manifest_fields(khm, tha, CONTRACT, "2026-10", "a" * 32, created="2026-11-06T00:00:00.000Z")
    manifest = forge(khm, tha, fields)  # someone holding the stolen key signs on
    [received] = pull(tha, "KHM")
    assert received.status == "rejected" and "revoked" in received.reason
    assert_quarantined(tha, "KHM", manifest.prefix, "revoked at 2026-11-05")
    [revoked] = events(tha, KEY_REVOKED, of="KHM")
    assert revoked["key_id"] == key_id and revoked["reason"] == "laptop stolen"


def test_stolen_signing_key_backdated_exchange_arriving_after_the_revocation_raises_an_alarm(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    _revoke(khm, khm.identity.signing_key.key_id, now="2026-11-05T00:00:00.000Z")
    fields = manifest_fields(khm, tha, CONTRACT, "2026-10", "b" * 32, created="2026-11-01T00:00:00.000Z")
    manifest = forge(khm, tha, fields)
    [received] = pull(tha, "KHM")
    assert received.status == "rejected"
    assert_quarantined(tha, "KHM", manifest.prefix, "first seen after the revocation")
    assert events(tha, "alarm", kind="revoked-key-late-arrival", exchange_id="b" * 32)


def test_stolen_signing_key_rotation_to_the_thiefs_key_is_undone_by_the_revocation(nodes, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    stolen = khm.identity.signing_key
    thief, thief_public = generate_keypair()
    age_now = load_history("KHM", tha.settings.keyring_dir).current("age")
    thief_age = age.to_recipient(age.generate_identity(post_quantum=False))
    rotation = Rotation("KHM", "2026-11-02T00:00:00.000Z", stolen.key_id, age_now.key_id, thief_public.key_id,
                        thief_public.base64, age_key_id(thief_age), thief_age)
    key = rotation_key(stolen.key_id, thief_public.key_id)
    for name, data in ((key, rotation.to_json()), (signature_key(key), stolen.sign(rotation.to_json(),
                                                                                   rotation.comment())),
                       (new_signature_key(key), thief.sign(rotation.to_json(), rotation.comment()))):
        store.put_bytes(BUCKET, name, data)
    pick_up_key_statements(tha, "KHM")  # indistinguishable from a genuine rotation: accepted
    assert tha.public_keys("KHM").minisign.key_id == thief_public.key_id
    assert tha.public_keys("KHM").age_recipient == thief_age
    _rotate(khm, now="2026-11-03T00:00:00.000Z")  # the office rotates, then revokes the stolen key
    _revoke(khm, stolen.key_id, now="2026-11-04T00:00:00.000Z")
    pick_up_key_statements(tha, "KHM")
    history = load_history("KHM", tha.settings.keyring_dir)
    assert history.find(thief_public.key_id).revoked_at
    assert history.current("minisign").key_id == khm.identity.signing_key.key_id
    assert tha.public_keys("KHM").age_recipient == khm.public_keys("KHM").age_recipient


def test_a_party_whose_signing_key_is_revoked_does_not_publish(nodes, source):
    khm = nodes["KHM"]
    _revoke(khm, khm.identity.signing_key.key_id, reason="key lost")
    with pytest.raises(ContractError, match="revoked"):  # its agreements fall with the key
        publish(khm, source(), CONTRACT, "2026-10")
    with pytest.raises(ConfigError, match="new key ceremony"):
        rotate_keys("KHM", khm.settings.identity_dir, khm.settings.keyring_dir)


def test_bucket_key_only_flood_of_planted_statements_does_not_crowd_out_a_rotation(nodes, store, monkeypatch):
    from exchange.protocol import key_pickup

    khm, tha = nodes["KHM"], nodes["THA"]
    monkeypatch.setattr(key_pickup, "STATEMENTS_MAX", 3)
    for n in range(6):  # "revocation-..." sorts before "rotation-..."
        store.put_bytes(BUCKET, revocation_key(f"{n:X}"), b"{}")
        store.put_bytes(BUCKET, signature_key(revocation_key(f"{n:X}")), b"x")
    _rotate(khm)
    pick_up_key_statements(tha, "KHM")
    assert tha.public_keys("KHM").minisign.key_id == khm.identity.signing_key.key_id


def test_bucket_key_only_flood_naming_the_current_key_delays_a_rotation_but_does_not_hide_it(nodes, store,
                                                                                           monkeypatch):
    """Planted rotations of the partner's current key sort before the genuine one; each pull
    reads the statements it has not refused before first, so the flood is read through."""
    from exchange.protocol import key_pickup

    khm, tha = nodes["KHM"], nodes["THA"]
    monkeypatch.setattr(key_pickup, "STATEMENTS_MAX", 3)
    current = khm.identity.signing_key.key_id
    for n in range(6):
        planted = rotation_key(current, f"{n:016X}")
        for key in (planted, signature_key(planted), new_signature_key(planted)):
            store.put_bytes(BUCKET, key, b"{}")
    _rotate(khm)
    for _ in range(3):  # 6 planted, 3 read per pull: the genuine one on the third pull at the latest
        pick_up_key_statements(tha, "KHM")
    assert tha.public_keys("KHM").minisign.key_id == khm.identity.signing_key.key_id
    assert len(events(tha, KEY_STATEMENT_REJECTED)) == 6


def test_bucket_key_only_planted_then_genuine_revocation_is_read_under_a_continuing_flood(nodes, store,
                                                                                          monkeypatch):
    """The revocation of a known key has one name: junk planted there first is refused, and the
    genuine statement written over it later is still read first, however many fresh rotations
    are planted before every pull."""
    from exchange.protocol import key_pickup

    khm, tha = nodes["KHM"], nodes["THA"]
    monkeypatch.setattr(key_pickup, "STATEMENTS_MAX", 3)
    current = khm.identity.signing_key.key_id
    slot = revocation_key(current)
    store.put_bytes(BUCKET, slot, b"{}")
    store.put_bytes(BUCKET, signature_key(slot), b"x")
    pick_up_key_statements(tha, "KHM")  # the junk is refused
    _revoke(khm, current)  # the genuine revocation, written over it
    for n in range(3):
        for m in range(3):  # fresh planted rotations before every pull
            planted = rotation_key(current, f"{n:08X}{m:08X}")
            for key in (planted, signature_key(planted), new_signature_key(planted)):
                store.put_bytes(BUCKET, key, b"{}")
        pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(current).revoked_at
    assert events(tha, "alarm", kind="key-statements-flooded")


def test_bucket_key_only_junk_filling_the_listing_cannot_hide_a_revocation(nodes, store, monkeypatch):
    from exchange.protocol import key_pickup

    khm, tha = nodes["KHM"], nodes["THA"]
    monkeypatch.setattr(key_pickup, "LISTED_MAX", 5)
    for n in range(10):  # "keys/0..." sorts before every statement
        store.put_bytes(BUCKET, f"keys/0{n:05d}", b"x")
    current = khm.identity.signing_key.key_id
    _revoke(khm, current)
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(current).revoked_at
    assert events(tha, "alarm", kind="key-statements-flooded")


def test_own_notes_beside_the_statements_are_never_published(nodes, store):
    """The watch's notes of foreign statements (``.foreign``) sit in the party's statements
    folder; publishing the party's statements leaves them out of the bucket."""
    from exchange.protocol.key_watch import watch_own_statements

    khm = nodes["KHM"]
    store.put_bytes(BUCKET, rotation_key("AAAA", "BBBB"), b"{}")  # planted in KHM's name
    assert watch_own_statements(khm, "THA")
    _rotate(khm)
    assert not [k for k in store.objects[BUCKET] if k.startswith("keys/.")]


def test_the_dag_picks_up_a_rotation_before_it_receives(nodes, source, monkeypatch):
    from exchange.orchestration import tasks

    khm, tha = nodes["KHM"], nodes["THA"]
    _rotate(khm)
    result = publish(khm, source(), CONTRACT, "2026-10")
    monkeypatch.setattr(tasks, "node_for", lambda client: tha)
    [prefix] = tasks.discover_inbound(None, "KHM")
    assert tasks.receive_inbound(None, "KHM", prefix)["status"] == "landed"
    assert result.exchange_id in prefix


@pytest.mark.parametrize("flaw", ["future", "new_id", "new_signature", "comment", "age_id"])
def test_stolen_signing_key_rotation_that_does_not_hold_together_is_refused(nodes, flaw):
    from exchange.protocol.key_rules import apply_rotation

    khm, tha = nodes["KHM"], nodes["THA"]
    history = load_history("KHM", tha.settings.keyring_dir)
    old = khm.identity.signing_key
    new, new_public = generate_keypair()
    other, _ = generate_keypair()
    recipient = age.to_recipient(age.generate_identity(post_quantum=False))
    good = Rotation("KHM", "2026-11-02T00:00:00.000Z", old.key_id, history.current("age").key_id,
                    new_public.key_id, new_public.base64, age_key_id(recipient), recipient)
    change = {"future": {"rotated_at": "2099-01-01T00:00:00.000Z"}, "new_id": {"new_minisign": "ABCDEF"},
              "age_id": {"new_age": "0" * 16}}.get(flaw, {})
    flawed = Rotation(**{**good.__dict__, **change})
    comment = "gcmx key-rotation KHM something else" if flaw == "comment" else flawed.comment()
    old_signature = old.sign(flawed.to_json(), comment)
    new_signature = (other if flaw == "new_signature" else new).sign(flawed.to_json(), comment)
    now = "2026-11-27T00:00:00.000Z"
    with pytest.raises((SignatureError, ProtocolError)):
        apply_rotation(history, flawed, old_signature, new_signature, "test", now)
    signatures = [key.sign(good.to_json(), good.comment()) for key in (old, new)]
    assert apply_rotation(history, good, *signatures, "test", now).current("minisign").key_id == new_public.key_id
