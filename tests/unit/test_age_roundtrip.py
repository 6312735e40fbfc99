"""Property tests: random sizes around chunk edges, 1..5 recipients, both recipient types."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.crypto import age

CHUNK = 64 * 1024
EDGES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1]
IDENTITIES = {
    pq: [age.generate_identity(post_quantum=pq) for _ in range(6)] for pq in (False, True)
}

sizes = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=3 * CHUNK + 7))


def _payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _encrypt(plain: bytes, dst, recipients: list[str]) -> None:
    with age.encryptor(dst, recipients) as sealed:
        sealed.write(plain)


def _seal(plain: bytes, recipients: list[str]) -> bytes:
    out = io.BytesIO()
    _encrypt(plain, out, recipients)
    return out.getvalue()


def _open(sealed: bytes, identities: list[str]) -> bytes:
    return age.decryptor(io.BytesIO(sealed), identities).read()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=sizes,
    seed=st.integers(0, 2**32),
    post_quantum=st.booleans(),
    count=st.integers(1, 5),
    pick=st.integers(0, 4),
    armored=st.booleans(),
)
def test_round_trip(size, seed, post_quantum, count, pick, armored) -> None:
    identities = IDENTITIES[post_quantum][:count]
    plain = _payload(size, seed)
    sealed = io.BytesIO()
    recipients = [age.to_recipient(i) for i in identities]
    if armored:
        with age.ArmoredWriter(sealed) as writer:
            _encrypt(plain, writer, recipients)
    else:
        _encrypt(plain, sealed, recipients)
    assert _open(sealed.getvalue(), [identities[pick % count]]) == plain
    stranger = IDENTITIES[post_quantum][5]
    with pytest.raises(age.NoIdentityMatchedError):
        _open(sealed.getvalue(), [stranger])


@pytest.mark.parametrize("size", EDGES)
def test_ciphertext_size_follows_chunking(size: int) -> None:
    identity = IDENTITIES[False][0]
    sealed = _seal(bytes(size), [age.to_recipient(identity)])
    chunks = max(1, -(-size // CHUNK))
    header_end = sealed.index(b"\n---") + len("\n--- ") + 43 + 1
    assert len(sealed) - header_end == 16 + size + 16 * chunks


def test_mixing_post_quantum_and_classic_is_refused() -> None:
    recipients = [age.to_recipient(IDENTITIES[True][0]), age.to_recipient(IDENTITIES[False][0])]
    with pytest.raises(age.MixedRecipientsError):
        age.encryptor(io.BytesIO(), recipients)


def test_identity_order_and_mixed_identity_list() -> None:
    identity = IDENTITIES[True][0]
    sealed = _seal(b"data", [age.to_recipient(identity)])
    assert _open(sealed, [IDENTITIES[False][0], identity]) == b"data"
