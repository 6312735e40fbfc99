"""An in-memory Store with the S3 store's interface and semantics, for fast protocol tests.

Same typed errors (NotFound, ObjectTooLarge), create-only writes, key-ordered listing and
bounded reads as :class:`exchange.storage.s3.Store`; no network, no threads. What needs the real
server (multipart, ranged reads under faults, credentials) stays in the SeaweedFS tests.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager

from exchange.errors import NotFound, ObjectTooLarge
from exchange.storage.transfer import Transferred


class _Writer(io.RawIOBase):
    def __init__(self):
        self.buffer = bytearray()
        self.result: Transferred | None = None

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += bytes(data)
        return len(data)


class MemoryStore:
    """Buckets as dicts of key -> bytes."""

    def __init__(self, buckets: list[str]):
        self.objects: dict[str, dict[str, bytes]] = {b: {} for b in buckets}

    def _bucket(self, bucket: str) -> dict[str, bytes]:
        if bucket not in self.objects:
            raise NotFound(f"s3://{bucket}: not found (NoSuchBucket)")
        return self.objects[bucket]

    def get_bytes(self, bucket: str, key: str, limit: int) -> bytes:
        """The object, of at most ``limit`` bytes (ObjectTooLarge otherwise)."""
        data = self._bucket(bucket).get(key)
        if data is None:
            raise NotFound(f"open s3://{bucket}/{key}: not found (NoSuchKey)")
        if len(data) > limit:
            raise ObjectTooLarge(f"s3://{bucket}/{key} is larger than {limit} bytes")
        return data

    def exists(self, bucket: str, key: str) -> bool:
        return key in self._bucket(bucket)

    def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self._bucket(bucket)[key] = bytes(data)

    def put_if_absent(self, bucket: str, key: str, data: bytes) -> bool:
        objects = self._bucket(bucket)
        if key in objects:
            return False
        objects[key] = bytes(data)
        return True

    def list_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        yield from sorted(k for k in self._bucket(bucket) if k.startswith(prefix))

    @contextmanager
    def writer(self, bucket: str, key: str, **_) -> Iterator[_Writer]:
        out = _Writer()
        yield out
        data = bytes(out.buffer)
        self._bucket(bucket)[key] = data
        out.result = Transferred(len(data), hashlib.sha256(data).hexdigest())

    @contextmanager
    def open_ranged(self, bucket: str, key: str) -> Iterator[io.BytesIO]:
        yield io.BytesIO(self.get_bytes(bucket, key, 1 << 40))
