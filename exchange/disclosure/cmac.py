"""AES-CMAC (NIST SP 800-38B, RFC 4493) of many short messages at once.

Messages with the same number of 16-byte blocks are laid out as the rows of one
matrix (numpy), padded and masked as CMAC prescribes, and chained block by block
through one AES-ECB call per block position for all rows together. The result equals
``cryptography``'s ``cmac.CMAC(AES(key))`` per message (checked in the unit tests);
the cost is a few passes over the data instead of a Python call per message.
"""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
_R128 = 0x87


def _double(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    if value >> 128:
        value = (value & ((1 << 128) - 1)) ^ _R128
    return value.to_bytes(BLOCK, "big")


def _xor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """XOR two (m, 16) uint8 matrices as 64-bit words."""
    return np.bitwise_xor(a.view(np.uint64), b.view(np.uint64)).view(np.uint8)


def _subkeys(encrypt) -> tuple[np.ndarray, np.ndarray]:
    k1 = _double(encrypt(bytes(BLOCK)))
    return np.frombuffer(k1, np.uint8), np.frombuffer(_double(k1), np.uint8)


def _padded(data: np.ndarray, starts: np.ndarray, size: np.ndarray, width: int) -> np.ndarray:
    """Rows of ``width`` bytes: each message, then 0x80 and zeros if it is shorter."""
    matrix = np.zeros((len(size), width), np.uint8)
    last = max(len(data) - 1, 0)
    longest = int(size.max(initial=0))
    for c in range(min(width, longest + 1)):  # byte position by byte position: O(rows)
        inside = size > c
        if len(data) and c < longest:
            matrix[:, c] = np.where(inside, data[np.minimum(starts + c, last)], 0)
        matrix[size == c, c] = 0x80
    return matrix


def cmac_many(keys: list[bytes], data: np.ndarray, offsets: np.ndarray,
              rows_per_pass: int = 1 << 20) -> list[np.ndarray]:
    """AES-CMAC tags (n, 16) under each key of the messages ``data[offsets[i]:offsets[i+1]]``."""
    encrypts = [Cipher(algorithms.AES(k), modes.ECB()).encryptor().update  # noqa: S305
                for k in keys]  # ECB: the bare AES permutation; CMAC's chaining is below
    masks = [_subkeys(e) for e in encrypts]
    starts = offsets[:-1].astype(np.int64)
    lengths = offsets[1:].astype(np.int64) - starts
    blocks = np.maximum(1, (lengths + BLOCK - 1) // BLOCK)
    tags = [np.empty((len(lengths), BLOCK), np.uint8) for _ in keys]
    for first in range(0, len(lengths), rows_per_pass):
        part = slice(first, first + rows_per_pass)
        for count in np.unique(blocks[part]):
            rows = first + np.flatnonzero(blocks[part] == count)
            width = int(count) * BLOCK
            matrix = _padded(data, starts[rows], lengths[rows], width)
            partial = (lengths[rows] < width)[:, None]
            last = np.ascontiguousarray(matrix[:, -BLOCK:])
            for encrypt, (k1, k2), out in zip(encrypts, masks, tags, strict=True):
                state = np.zeros((len(rows), BLOCK), np.uint8)
                for j in range(int(count)):
                    chunk = (_xor(last, np.where(partial, k2, k1)) if j == count - 1 else
                             np.ascontiguousarray(matrix[:, j * BLOCK:(j + 1) * BLOCK]))
                    state = np.frombuffer(encrypt(_xor(state, chunk).tobytes()),
                                          np.uint8).reshape(-1, BLOCK)
                out[rows] = state
    return tags
