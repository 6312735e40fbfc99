"""Keys, identity files, errors without secrets, armor writer, the recipient's type."""

from __future__ import annotations

import io

import pytest

from exchange.crypto import age
from exchange.crypto.age import bech32
from exchange.errors import CryptoError

# From c2sp.org/age: an X25519 identity and its recipient.
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


def test_spec_x25519_key_pair() -> None:
    assert age.to_recipient(SPEC_IDENTITY) == SPEC_RECIPIENT


@pytest.mark.parametrize("post_quantum", [True, False])
def test_generated_identities(post_quantum: bool) -> None:
    identity = age.generate_identity(post_quantum=post_quantum)
    prefix = "AGE-SECRET-KEY-PQ-1" if post_quantum else "AGE-SECRET-KEY-1"
    assert identity.startswith(prefix) and identity == identity.upper()
    recipient = age.to_recipient(identity)
    assert recipient.startswith("age1pq1" if post_quantum else "age1")
    assert bech32.decode(recipient)[0] == ("age1pq" if post_quantum else "age")


def test_identity_file_format_round_trip() -> None:
    identity = age.generate_identity(post_quantum=False)
    text = age.format_identity_file(identity)
    lines = text.splitlines()
    assert lines[0].startswith("# created: ")
    assert lines[1] == f"# public key: {age.to_recipient(identity)}"
    assert lines[2] == identity
    assert age.read_identity_file(text) == [identity]


def test_bad_identity_file_names_line_not_secret() -> None:
    secret = age.generate_identity()
    with pytest.raises(age.IdentityParseError) as caught:
        age.read_identity_file(f"# comment\n{secret[:-1]}x\n")
    assert "line 2" in str(caught.value)
    assert secret[:20] not in str(caught.value)


@pytest.mark.parametrize(
    "text", ["", "age1", "age1qqqq", SPEC_RECIPIENT.upper(), SPEC_RECIPIENT[:-1] + "q", "bc1qw508d"]
)
def test_bad_recipients(text: str) -> None:
    with pytest.raises(age.RecipientParseError):
        age.encryptor(io.BytesIO(), [text])


def test_errors_are_crypto_errors_and_reprs_hide_secrets() -> None:
    for cls in (age.NoIdentityMatchedError, age.HeaderError, age.HeaderMacError,
                age.PayloadError, age.ArmorError, age.RecipientParseError):
        assert issubclass(cls, CryptoError)
    identity = age.generate_identity()
    assert identity not in repr(age.parse_identity(identity))
    assert "secret" not in repr(age.ScryptIdentity("secret"))


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 1000])
def test_armored_writer_layout(size: int) -> None:
    out = io.BytesIO()
    with age.ArmoredWriter(out) as writer:
        writer.write(bytes(size))
    lines = out.getvalue().decode().split("\n")
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-2:] == ["-----END AGE ENCRYPTED FILE-----", ""]
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1])
    assert all(0 < len(line) <= 64 for line in body)


@pytest.mark.parametrize(("post_quantum", "kind"), [(True, "mlkem768x25519"), (False, "x25519")])
def test_parsed_recipient_tells_its_type(post_quantum: bool, kind: str) -> None:
    recipient = age.parse_recipient(age.to_recipient(age.generate_identity(post_quantum=post_quantum)))
    assert (recipient.kind, recipient.post_quantum) == (kind, post_quantum)


def test_encryptor_takes_parsed_recipients_and_armor() -> None:
    identity = age.generate_identity(post_quantum=False)
    out = io.BytesIO()
    with age.ArmoredWriter(out) as armored, \
            age.encryptor(armored, [age.parse_recipient(age.to_recipient(identity))]) as sealed:
        sealed.write(b"hello")
    assert out.getvalue().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert age.decryptor(io.BytesIO(out.getvalue()), [identity]).read() == b"hello"
