"""minisign format: signing, verifying, key files, and every way verification must fail."""

from __future__ import annotations

import base64
import hashlib
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from exchange.crypto.minisign import PasswordRequired, PublicKey, SecretKey, generate_keypair
from exchange.errors import CryptoError, GcmxError, NotFound, SignatureError

FAST_KDF = {"opslimit": 1 << 15, "memlimit": 1 << 20}  # tiny scrypt work for unit tests


@pytest.fixture(scope="module")
def keypair() -> tuple[SecretKey, PublicKey]:
    return generate_keypair()


def test_sign_verify_returns_trusted_comment(keypair):
    secret, public = keypair
    signature = secret.sign(b"manifest", "exchange KHM-THA-1\tfile:manifest.json")
    assert public.verify(b"manifest", signature) == "exchange KHM-THA-1\tfile:manifest.json"


def test_signature_layout_is_minisign_prehashed(keypair):
    secret, public = keypair
    lines = secret.sign(b"data", "tc").decode().splitlines()
    assert lines[0] == "untrusted comment: signature from gcmx"
    assert lines[2] == "trusted comment: tc"
    body = base64.b64decode(lines[1])
    assert body[:2] == b"ED" and len(body) == 74
    raw_public = base64.b64decode(public.base64)[10:]
    Ed25519PublicKey.from_public_bytes(raw_public).verify(body[10:], hashlib.blake2b(b"data").digest())


def test_key_id_is_shown_as_minisign_does(keypair):
    _, public = keypair
    key_id_bytes = base64.b64decode(public.base64)[2:10]
    assert public.key_id == f"{int.from_bytes(key_id_bytes, 'little'):X}"
    assert public.to_string().startswith(f"untrusted comment: minisign public key {public.key_id}\n")


def test_sign_file_streams_and_verify_file(tmp_path, keypair):
    secret, public = keypair
    data = tmp_path / "data.parquet.age"
    data.write_bytes(bytes(range(256)) * 1000)
    sig_path = secret.sign_file(data, "file:data.parquet.age")
    assert sig_path == tmp_path / "data.parquet.age.minisig"
    assert public.verify_file(data) == "file:data.parquet.age"
    assert public.verify(data.read_bytes(), sig_path.read_bytes()) == "file:data.parquet.age"
    moved = tmp_path / "elsewhere.sig"
    sig_path.rename(moved)
    assert public.verify_file(data, moved) == "file:data.parquet.age"


def test_tampered_data_is_a_bad_signature(keypair):
    secret, public = keypair
    signature = secret.sign(b"rows=10", "tc")
    with pytest.raises(SignatureError, match="bad signature"):
        public.verify(b"rows=11", signature)


def test_tampered_trusted_comment_is_a_bad_global_signature(keypair):
    secret, public = keypair
    signature = secret.sign(b"data", "exchange 1").replace(b"exchange 1", b"exchange 2")
    with pytest.raises(SignatureError, match="bad global signature"):
        public.verify(b"data", signature)


def test_other_key_names_both_key_ids(keypair):
    secret, _ = keypair
    _, other = generate_keypair()
    with pytest.raises(SignatureError) as caught:
        other.verify(b"data", secret.sign(b"data", "tc"))
    assert f"signed by key {secret.key_id}, expected {other.key_id}" in caught.value.message


@pytest.mark.parametrize(
    "signature",
    [b"", b"not a signature", b"untrusted comment: x\nAAAA\ntrusted comment: y\nAAAA\n"],
)
def test_malformed_signature(keypair, signature):
    with pytest.raises(SignatureError, match="is malformed"):
        keypair[1].verify(b"data", signature)


def test_legacy_unhashed_signature_is_refused(keypair):
    secret, public = keypair
    lines = secret.sign(b"data", "tc").decode().splitlines()
    body = base64.b64decode(lines[1])
    lines[1] = base64.b64encode(b"Ed" + body[2:]).decode()
    with pytest.raises(SignatureError, match="legacy"):
        public.verify(b"data", "\n".join(lines).encode())


def test_comments_must_be_one_line(keypair):
    with pytest.raises(SignatureError, match="line break"):
        keypair[0].sign(b"data", "two\nlines")


def test_missing_files_are_not_found(tmp_path, keypair):
    secret, public = keypair
    with pytest.raises(NotFound, match="does not exist"):
        secret.sign_file(tmp_path / "absent", "tc")
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(NotFound, match="f.minisig does not exist"):
        public.verify_file(tmp_path / "f")
    with pytest.raises(NotFound):
        PublicKey.from_file(tmp_path / "absent.pub")


def test_public_key_round_trip(tmp_path, keypair):
    _, public = keypair
    path = public.write(tmp_path / "KHM.minisign.pub")
    assert PublicKey.from_file(path) == public
    assert PublicKey.from_string(public.base64) == public
    with pytest.raises(CryptoError, match="not a minisign"):
        PublicKey.from_string("untrusted comment: x\nnot base64\n")


def test_unencrypted_secret_key_round_trip(tmp_path, keypair):
    secret, public = keypair
    path = secret.write(tmp_path / "KHM.minisign.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = SecretKey.from_file(path)
    assert loaded.public_key == public
    assert public.verify(b"x", loaded.sign(b"x", "tc")) == "tc"
    with pytest.raises(CryptoError, match="already exists"):
        secret.write(path)


def test_encrypted_secret_key_needs_the_right_password(tmp_path, keypair):
    secret, public = keypair
    path = secret.write(tmp_path / "k.key", "correct horse", **FAST_KDF)
    assert "encrypted" in path.read_text().splitlines()[0]
    assert SecretKey.from_file(path, "correct horse").public_key == public
    with pytest.raises(PasswordRequired, match="password-protected"):
        SecretKey.from_file(path)
    with pytest.raises(CryptoError, match="wrong password"):
        SecretKey.from_file(path, "wrong")


def test_corrupt_secret_key_is_refused(tmp_path, keypair):
    path = keypair[0].write(tmp_path / "k.key")
    comment, line = path.read_text().splitlines()
    raw = bytearray(base64.b64decode(line))
    raw[70] ^= 1  # inside the seed
    path.write_text(f"{comment}\n{base64.b64encode(bytes(raw)).decode()}\n")
    with pytest.raises(CryptoError, match="corrupt"):
        SecretKey.from_file(path)


def test_reprs_and_messages_hide_secret_material(tmp_path, keypair):
    secret, public = keypair
    path = secret.write(tmp_path / "k.key")
    key_line = path.read_text().splitlines()[1]
    assert repr(secret) == f"SecretKey(key_id={secret.key_id})"
    assert repr(public) == f"PublicKey(key_id={public.key_id})"
    with pytest.raises(GcmxError) as caught:
        SecretKey.from_file(path, "irrelevant").public_key.verify(b"a", b"junk")
    assert key_line not in str(caught.value)
