"""Keyed pseudonyms: HMAC-SHA256 under the bilateral linkage key.

The same identifier gives the same pseudonym under the same key and ``domain`` (the
column or use), so records link across datasets and periods; without the key a
pseudonym cannot be reversed or recomputed. The key is first narrowed to the domain
(``HMAC(key, "gcmx/pseudonym/v1/" + domain)``) so pseudonyms of one use never match
another's. Identifiers are hashed as their UTF-8 text (integers in decimal).
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

from exchange.errors import DisclosureError

MINIMUM_KEY_BYTES = 32
_CONTEXT = b"gcmx/pseudonym/v1/"


def _domain_key(key: bytes, domain: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) < MINIMUM_KEY_BYTES:
        raise DisclosureError(
            f"linkage key for pseudonyms in {domain!r} is shorter than "
            f"{MINIMUM_KEY_BYTES} bytes", hint="use the bilateral linkage key "
            "(gcmx keys: {identity}/linkage/{A}-{B}.key), 32 random bytes or more")
    return hmac.digest(bytes(key), _CONTEXT + domain.encode(), hashlib.sha256)


def _hmac_states(subkey: bytes) -> tuple:
    """SHA-256 states after absorbing ``key ^ ipad`` and ``key ^ opad`` (RFC 2104).

    Copying these two states per value computes exactly ``hmac.new(subkey, value)``,
    without the HMAC object's per-call overhead (about 1.6x faster on 1M values).
    """
    block = subkey.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def _digests(subkey: bytes, values: list[str]) -> list[str]:
    inner, outer = _hmac_states(subkey)
    out = []
    for value in values:
        i = inner.copy()
        i.update(value.encode())
        o = outer.copy()
        o.update(i.digest())
        out.append(o.hexdigest())
    return out


def pseudonymise(values: pa.Array | pa.ChunkedArray, key: bytes, domain: str) -> pa.Array:
    """Replace each identifier by its 64-hex-character pseudonym; nulls stay null."""
    subkey = _domain_key(key, domain)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        if not pa.types.is_integer(values.type):
            raise DisclosureError(f"column {domain}: identifiers must be text or integers, "
                                  f"found {values.type}", hint="cast the identifier to string")
        values = pc.cast(values, pa.string())
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    dictionary = pa.array(_digests(subkey, distinct), type=pa.string())
    indices = encoded.indices
    if len(dictionary) == 0:
        return pa.nulls(len(values), type=pa.string())
    taken = dictionary.take(indices.fill_null(0))
    return pc.if_else(indices.is_null(), pa.nulls(len(values), pa.string()), taken) \
        if indices.null_count else taken


def pseudonymise_columns(table: pa.Table, columns: tuple[str, ...], key: bytes) -> pa.Table:
    """Replace each named identifier column in place (domain: the column name)."""
    for name in columns:
        if name not in table.column_names:
            raise DisclosureError(f"dataset has no column {name} "
                                  "(named by disclosure.pseudonymise)",
                                  hint="fix the contract or the dataset")
        index = table.column_names.index(name)
        table = table.set_column(index, pa.field(name, pa.string()),
                                 pseudonymise(table.column(name), key, name))
    return table


def looks_pseudonymised(values: pa.Array | pa.ChunkedArray) -> bool:
    """True when every non-null value is 64 lowercase hex characters."""
    if not pa.types.is_string(values.type):
        return False
    return bool(pc.all(pc.match_substring_regex(values, "^[0-9a-f]{64}$")).as_py() is not False)
