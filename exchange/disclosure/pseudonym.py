"""Keyed pseudonyms (format ``gcmx/pseudonym/v2``), part of a contract's terms.

Algorithm, for a secret ``key`` (32 bytes or more) and a ``scope`` (text)::

    subkey    = HMAC-SHA256(key, "gcmx/pseudonym/v2/" + scope)
    pseudonym = hex(BLAKE2b(identifier as UTF-8, key=subkey, digest_size=32))

64 lowercase hex characters; nulls stay null; integers are hashed as their decimal
text. Keyed BLAKE2b is a pseudo-random function: without the subkey a pseudonym can
be neither reversed nor recomputed, and pseudonyms of one scope never match
another's. :func:`pseudonym_scope` builds the scope the contract's
``disclosure.linkage`` asks for (per release, across releases, or with the recipient);
:func:`pseudonymise` needs no more than the key and the scope, so a party holding
the key can reproduce it (test vectors in tests/unit/test_disclosure_records.py).

Speed: one keyed BLAKE2b state is prepared per scope and copied per value; the
identifiers are read from the Arrow buffers (copied to Python bytes before any fork, so
the child never touches Arrow) in chunks and, above
``PARALLEL_FROM`` values, split across two processes (fork) writing their digests into
one shared buffer, hex-encoded at once.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import mmap
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.errors import DisclosureError

MINIMUM_KEY_BYTES = 32
DIGEST_BYTES = 32
PARALLEL_FROM = 200_000
_CHUNK = 65_536
_CONTEXT = b"gcmx/pseudonym/v2/"


def pseudonym_scope(column: str, prefix: str | None = None) -> str:
    """The scope of a column's pseudonyms: ``prefix/column``, or ``column`` alone.

    :mod:`exchange.disclosure.records` uses ``contract/period`` as prefix (per release,
    no linkage across releases) or ``contract`` (stable across the contract's releases);
    birth reconciliation uses the bare column, both parties holding the bilateral key."""
    return f"{prefix}/{column}" if prefix else column


def _subkey(key: bytes, scope: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) < MINIMUM_KEY_BYTES:
        raise DisclosureError(
            f"pseudonym key for {scope!r} is shorter than {MINIMUM_KEY_BYTES} bytes",
            hint="use the sender's pseudonym key or the bilateral linkage key "
                 "(gcmx keys), 32 random bytes or more")
    return hmac.digest(bytes(key), _CONTEXT + scope.encode(), hashlib.sha256)


def _hash_into(out, state, data: bytes, offsets: np.ndarray, lo: int, hi: int) -> None:
    """Write the digests of values ``lo..hi-1`` (``data[offsets[i]:offsets[i+1]]``) into
    ``out``, by chunks. Pure Python and numpy: safe in a child forked from a process
    whose other threads may hold Arrow's allocator."""
    copy, view = state.copy, memoryview(data)
    for start in range(lo, hi, _CHUNK):
        stop = min(start + _CHUNK, hi)
        bounds = offsets[start:stop + 1].tolist()
        parts = []
        append = parts.append
        for a, b in zip(bounds, bounds[1:], strict=False):
            h = copy()
            h.update(view[a:b])
            append(h.digest())
        out[start * DIGEST_BYTES:stop * DIGEST_BYTES] = b"".join(parts)


def _digests(subkey: bytes, values: pa.Array):
    """All digests (a buffer), in two processes when there are many values."""
    state = hashlib.blake2b(key=subkey, digest_size=DIGEST_BYTES)
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[
        values.offset:values.offset + n + 1].copy()
    data = values.buffers()[2].to_pybytes() if n and values.buffers()[2] is not None else b""
    if n < PARALLEL_FROM or not hasattr(os, "fork"):
        out = bytearray(n * DIGEST_BYTES)
        _hash_into(out, state, data, offsets, 0, n)
        return out
    half = n // 2
    out = mmap.mmap(-1, n * DIGEST_BYTES)  # MAP_SHARED: the child's half lands here too
    pid = os.fork()
    if pid == 0:  # child: the second half, then leave without running any cleanup
        code = 1
        try:
            _hash_into(out, state, data, offsets, half, n)
            code = 0
        finally:
            os._exit(code)
    _hash_into(out, state, data, offsets, 0, half)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise DisclosureError("pseudonymisation worker failed",
                              hint="retry; if it fails again, report it")
    return out


def pseudonymise(values: pa.Array | pa.ChunkedArray, key: bytes, scope: str) -> pa.Array:
    """Replace each identifier by its 64-hex-character pseudonym in ``scope``."""
    subkey = _subkey(key, scope)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], values.type)
    if pa.types.is_integer(values.type) or pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.string())
    elif not pa.types.is_string(values.type):
        raise DisclosureError(f"column {scope}: identifiers must be text or integers, "
                              f"found {values.type}", hint="cast the identifier to string")
    n = len(values)
    text = binascii.hexlify(_digests(subkey, pc.fill_null(pc.cast(values, pa.binary()), b"")))
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
