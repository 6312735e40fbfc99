"""Every C2SP CCTV age vector in ../shared/vectors/age must give its exact expected outcome."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import pytest

from exchange.crypto import age
from exchange.crypto.age.armor import ArmorReader

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "age"
NAMES = sorted(p.name for p in VECTORS.iterdir() if p.name != "README.md")
OUTCOMES = {
    "no match": age.NoIdentityMatchedError,
    "HMAC failure": age.HeaderMacError,
    "header failure": age.HeaderError,
    "payload failure": age.PayloadError,
    "armor failure": age.ArmorError,
}


def _load(name: str) -> tuple[dict[str, list[str]], bytes]:
    raw = (VECTORS / name).read_bytes()
    head, body = raw.split(b"\n\n", 1)
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return fields, body


def test_all_vectors_are_present() -> None:
    assert len(NAMES) == 143, f"expected 143 vectors in {VECTORS}"


@pytest.mark.parametrize("name", NAMES)
def test_vector(name: str) -> None:
    fields, body = _load(name)
    identities: list[str | age.Identity] = list(fields.get("identity", []))
    identities += [age.ScryptIdentity(p) for p in fields.get("passphrase", [])]
    expect = fields["expect"][0]
    if expect == "success":
        plain = age.decryptor(io.BytesIO(body), identities).read()
        assert hashlib.sha256(plain).hexdigest() == fields["payload"][0]
    else:
        with pytest.raises(OUTCOMES[expect]) as caught:
            age.decryptor(io.BytesIO(body), identities).read()
        assert type(caught.value) is OUTCOMES[expect]


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("armor_")])
def test_armored_vectors_with_forced_armor(name: str) -> None:
    """The same outcome when the armor is decoded explicitly (no sniffing)."""
    fields, body = _load(name)
    expect = fields["expect"][0]
    identities: list[str | age.Identity] = list(fields.get("identity", []))
    identities += [age.ScryptIdentity(p) for p in fields.get("passphrase", [])]
    if expect == "success":
        age.decryptor(ArmorReader(io.BytesIO(body)), identities).read()
    else:
        with pytest.raises(OUTCOMES[expect]):
            age.decryptor(ArmorReader(io.BytesIO(body)), identities).read()
