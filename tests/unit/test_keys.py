"""Party key files, the keyring, identities and bilateral linkage keys."""

from __future__ import annotations

import stat

import pytest

from exchange.crypto import age
from exchange.crypto.keys import (
    find_signing_public_key,
    generate_linkage_key,
    generate_party_keys,
    load_identity,
    load_linkage_key,
    load_public_keys,
)
from exchange.errors import ConfigError


@pytest.fixture(scope="module")
def khm_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("khm")
    generate_party_keys("KHM", directory)
    return directory


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_four_files_secrets_0600(khm_dir):
    assert mode(khm_dir / "KHM.age") == 0o600
    assert mode(khm_dir / "KHM.minisign.key") == 0o600
    recipient = (khm_dir / "KHM.age.pub").read_text()
    assert recipient.startswith("age1pq1") and recipient.endswith("\n")
    assert (khm_dir / "KHM.minisign.pub").read_text().startswith("untrusted comment: minisign")


def test_classic_keys_are_x25519(tmp_path):
    files = generate_party_keys("tha", tmp_path, classic=True)
    assert files.party == "THA"
    assert files.age_recipient.read_text().startswith("age1") and "age1pq1" not in (
        files.age_recipient.read_text()
    )
    assert files.age_identity.read_text().splitlines()[-1].startswith("AGE-SECRET-KEY-1")


def test_generate_refuses_to_overwrite_anything(khm_dir):
    before = (khm_dir / "KHM.age").read_text()
    with pytest.raises(ConfigError, match="already exist") as caught:
        generate_party_keys("KHM", khm_dir)
    assert caught.value.hint
    assert (khm_dir / "KHM.age").read_text() == before


def test_identity_and_public_keys_belong_together(khm_dir):
    public = load_public_keys("KHM", khm_dir)
    identity = load_identity("khm", khm_dir)
    assert identity.party == public.party == "KHM"
    assert age.to_recipient(identity.age_identities[0]) == public.age_recipient
    assert public.minisign == identity.signing_key.public_key
    signature = identity.signing_key.sign(b"manifest", "tc")
    assert public.minisign.verify(b"manifest", signature) == "tc"


def test_identity_repr_hides_secrets(khm_dir):
    identity = load_identity("KHM", khm_dir)
    text = repr(identity)
    assert "AGE-SECRET-KEY" not in text and identity.age_identities[0] not in text
    assert identity.signing_key.key_id in text


def test_missing_partner_key_names_file_and_remedy(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_public_keys("THA", tmp_path)
    assert str(tmp_path / "THA.age.pub") in caught.value.message
    assert caught.value.hint == f"ask THA for THA.age.pub and put it in GCMX_KEYRING={tmp_path}"


def test_missing_minisign_key_in_keyring(khm_dir, tmp_path):
    (tmp_path / "KHM.age.pub").write_text((khm_dir / "KHM.age.pub").read_text())
    with pytest.raises(ConfigError, match="KHM.minisign.pub") as caught:
        load_public_keys("KHM", tmp_path)
    assert "ask KHM for KHM.minisign.pub" in caught.value.hint


def test_bad_recipient_file(tmp_path, khm_dir):
    (tmp_path / "KHM.age.pub").write_text("not a recipient\n")
    (tmp_path / "KHM.minisign.pub").write_text((khm_dir / "KHM.minisign.pub").read_text())
    with pytest.raises(ConfigError, match="exactly one age recipient"):
        load_public_keys("KHM", tmp_path)


def test_missing_identity_says_how_to_make_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_identity("KHM", tmp_path)
    assert str(tmp_path / "KHM.age") in caught.value.message
    assert "gcmx keys generate --party KHM" in caught.value.hint


def test_invalid_party_code(tmp_path):
    with pytest.raises(ConfigError, match="invalid party code"):
        generate_party_keys("Cambodia", tmp_path)


def test_linkage_key_is_shared_by_both_orders(tmp_path):
    path = generate_linkage_key("THA", "KHM", tmp_path)
    assert path == tmp_path / "linkage" / "KHM-THA.key"
    assert mode(path) == 0o600
    key = load_linkage_key("KHM", "THA", tmp_path)
    assert len(key) == 32 and load_linkage_key("tha", "khm", tmp_path) == key
    with pytest.raises(ConfigError, match="already exists"):
        generate_linkage_key("KHM", "THA", tmp_path)


def test_linkage_key_errors(tmp_path):
    with pytest.raises(ConfigError, match="KHM-MYS.key"):
        load_linkage_key("MYS", "KHM", tmp_path)
    with pytest.raises(ConfigError, match="two different parties"):
        generate_linkage_key("KHM", "KHM", tmp_path)
    bad = tmp_path / "linkage" / "KHM-KOR.key"
    bad.parent.mkdir()
    bad.write_text("abcd\n")
    with pytest.raises(ConfigError, match="not 32 bytes"):
        load_linkage_key("KHM", "KOR", tmp_path)


def test_a_signing_key_is_looked_up_in_the_keyring_first_then_the_identity_folder(khm_dir, tmp_path):
    keyring = tmp_path / "keyring"
    assert find_signing_public_key("KHM", [keyring, khm_dir]).key_id == \
        load_public_keys("KHM", khm_dir).minisign.key_id
    other = generate_party_keys("KHM", keyring, classic=True)
    assert find_signing_public_key("khm", [keyring, khm_dir]).key_id == \
        load_public_keys("KHM", other.minisign_public.parent).minisign.key_id
    assert find_signing_public_key("THA", [keyring, khm_dir]) is None
