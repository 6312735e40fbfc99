"""Keyed pseudonyms (format ``gcmx/pseudonym/v3``), part of a contract's terms.

Algorithm, for a secret ``key`` (32 bytes or more) and a ``scope`` (text)::

    key_a     = HMAC-SHA256(key, "gcmx/pseudonym/v3/" + scope + "\\x00a")   # AES-256 keys
    key_b     = HMAC-SHA256(key, "gcmx/pseudonym/v3/" + scope + "\\x00b")
    pseudonym = hex(AES-CMAC(key_a, id) || AES-CMAC(key_b, id))        # id as UTF-8

64 lowercase hex characters; nulls stay null; integers are hashed as their decimal
text. AES-CMAC (NIST SP 800-38B, RFC 4493) is a pseudo-random function: without the
keys a pseudonym can be neither reversed nor recomputed, and pseudonyms of one scope
never match another's. Any standard CMAC implementation reproduces them (test vectors
in tests/unit/test_disclosure_records.py). :func:`pseudonym_scope` builds the scope
the contract's ``disclosure.linkage`` asks for (per release, across releases, or with
the recipient).

Speed: :func:`exchange.disclosure.cmac.cmac_many` computes all tags with one AES-ECB
pass per block position, straight from the Arrow buffers (no Python call per value).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.cmac import cmac_many
from exchange.errors import DisclosureError

MINIMUM_KEY_BYTES = 32
DIGEST_BYTES = 32
_CONTEXT = b"gcmx/pseudonym/v3/"


def pseudonym_scope(column: str, prefix: str | None = None) -> str:
    """The scope of a column's pseudonyms: ``prefix/column``, or ``column`` alone.

    :mod:`exchange.disclosure.records` uses ``contract/period`` as prefix (per release,
    no linkage across releases) or ``contract`` (stable across the contract's releases);
    birth reconciliation uses the bare column, both parties holding the bilateral key."""
    return f"{prefix}/{column}" if prefix else column


def _keys(key: bytes, scope: str) -> tuple[bytes, bytes]:
    if not isinstance(key, bytes | bytearray) or len(key) < MINIMUM_KEY_BYTES:
        raise DisclosureError(
            f"pseudonym key for {scope!r} is shorter than {MINIMUM_KEY_BYTES} bytes",
            hint="use the sender's pseudonym key or the bilateral linkage key "
                 "(gcmx keys), 32 random bytes or more")
    base = _CONTEXT + scope.encode() + b"\x00"
    return tuple(hmac.digest(bytes(key), base + half, hashlib.sha256) for half in (b"a", b"b"))


def pseudonymise(values: pa.Array | pa.ChunkedArray, key: bytes, scope: str) -> pa.Array:
    """Replace each identifier by its 64-hex-character pseudonym in ``scope``."""
    key_a, key_b = _keys(key, scope)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if pa.types.is_integer(values.type) or pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    elif not pa.types.is_string(values.type):
        raise DisclosureError(f"column {scope}: identifiers must be text or integers, "
                              f"found {values.type}", hint="cast the identifier to string")
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset:values.offset + n + 1]
    data = (np.frombuffer(values.buffers()[2], np.uint8) if n and values.buffers()[2] is not None
            else np.zeros(0, np.uint8))
    tags = np.concatenate(cmac_many([key_a, key_b], data, offsets), axis=1)
    text = binascii.hexlify(memoryview(tags))  # reads the matrix in place
    out_offsets = np.arange(n + 1, dtype=np.int32) * (2 * DIGEST_BYTES)
    result = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(out_offsets),
                                                    pa.py_buffer(text)])
    if values.null_count:
        result = pc.if_else(values.is_null(), pa.nulls(n, pa.string()), result)
    return result


def looks_pseudonymised(values: pa.Array | pa.ChunkedArray) -> bool:
    """True when every non-null value is 64 lowercase hex characters."""
    if not pa.types.is_string(values.type):
        return False
    return bool(pc.all(pc.match_substring_regex(values, "^[0-9a-f]{64}$")).as_py() is not False)
