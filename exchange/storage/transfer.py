"""Streaming transfers of one S3 object: a multipart writer and a parallel ranged reader.

Both take ``call(action, bucket, key, operation)`` from the Store, which runs a boto3
operation and turns its failures into the exchange's typed errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from exchange.errors import GcmxError

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last

Progress = Callable[[int], None]
Call = Callable[..., object]


@dataclass(frozen=True)
class Transferred:
    """What crossed the wire: byte count and SHA-256 (hex) of those bytes."""

    size: int
    sha256: str


class MultipartWriter:
    """A write-only file object that streams into an S3 multipart upload.

    ``IN_FLIGHT`` parts upload on background threads while the caller fills the next
    one. Part buffers are allocated once and reused, so memory stays at
    ``(IN_FLIGHT + 1) * part_size`` whatever the object size (and the allocator never
    sees a stream of fresh multi-megabyte blocks to fragment).
    """

    IN_FLIGHT = 2

    def __init__(self, call: Call, bucket: str, key: str, part_size: int, progress: Progress | None):
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self._call, self.bucket, self.key = call, bucket, key
        self._part_size, self._progress = part_size, progress
        self._buffers = [bytearray(part_size) for _ in range(self.IN_FLIGHT + 1)]
        self._filled = 0
        self._hash = hashlib.sha256()
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[Future] = []
        self._pool = ThreadPoolExecutor(max_workers=self.IN_FLIGHT, thread_name_prefix="s3-part")
        self.result: Transferred | None = None

    @property
    def _current(self) -> bytearray:
        return self._buffers[len(self._parts) % len(self._buffers)]

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        """Buffer ``data``; ship a part whenever a full one is ready."""
        self._hash.update(data)
        self._size += len(data)
        view = memoryview(data).cast("B")
        while view:
            n = min(len(view), self._part_size - self._filled)
            self._current[self._filled:self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == self._part_size:
                self._ship(self._current)
        return len(data)

    def _ship(self, part: bytearray) -> None:
        if self._upload_id is None:
            self._upload_id = self._call(
                "start upload of", self.bucket, self.key,
                lambda c: c.create_multipart_upload(Bucket=self.bucket, Key=self.key))["UploadId"]
        number = len(self._parts) + 1
        self._parts.append(self._pool.submit(self._upload_part, number, part))
        self._filled = 0
        reuse = len(self._parts) - len(self._buffers) + 1
        if reuse >= 1:
            self._parts[reuse - 1].result()  # the buffer filled next is free again

    def _upload_part(self, number: int, part: bytearray) -> dict:
        response = self._call(
            "upload part of", self.bucket, self.key,
            lambda c: c.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                    PartNumber=number, Body=part))
        if self._progress:
            self._progress(len(part))
        return {"PartNumber": number, "ETag": response["ETag"]}

    def finish(self) -> Transferred:
        """Upload what is left and complete the object; it becomes visible only now."""
        rest = bytes(self._current[: self._filled])
        if self._upload_id is None:
            self._call("upload", self.bucket, self.key,
                              lambda c: c.put_object(Bucket=self.bucket, Key=self.key, Body=rest))
            if self._progress:
                self._progress(len(rest))
        else:
            if rest:
                self._parts.append(self._pool.submit(self._upload_part, len(self._parts) + 1, rest))
            parts = [f.result() for f in self._parts]
            self._call("complete upload of", self.bucket, self.key,
                              lambda c: c.complete_multipart_upload(
                                  Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                  MultipartUpload={"Parts": parts}))
        self._buffers.clear()
        self._pool.shutdown()
        self.result = Transferred(self._size, self._hash.hexdigest())
        return self.result

    def abort(self) -> None:
        """Drop the upload; nothing of it stays visible. Best effort if the store is down."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._upload_id is not None:
            try:
                self._call("abort upload of", self.bucket, self.key,
                                  lambda c: c.abort_multipart_upload(
                                      Bucket=self.bucket, Key=self.key, UploadId=self._upload_id))
            except GcmxError:
                pass  # incomplete uploads are invisible; a bucket lifecycle rule reaps them


class RangedReader:
    """A readable stream of one object, fetched as parallel ranged GETs served in order.

    A single GET stream is limited by one connection; ``AHEAD`` ranges of ``RANGE``
    bytes in flight keep the link busy while memory stays at ``AHEAD * RANGE``.
    """

    RANGE = 8 * 1024 * 1024
    AHEAD = 4

    def __init__(self, call: Call, bucket: str, key: str, size: int):
        self._call, self._bucket, self._key, self._size = call, bucket, key, size
        self._pool = ThreadPoolExecutor(max_workers=self.AHEAD, thread_name_prefix="s3-range")
        self._pending: list[Future] = []
        self._next = 0
        self._current = memoryview(b"")
        self._fill()

    def _get(self, start: int) -> bytes:
        end = min(start + self.RANGE, self._size) - 1
        return self._call("download", self._bucket, self._key, lambda c: c.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}")["Body"].read())

    def _fill(self) -> None:
        while len(self._pending) < self.AHEAD and self._next < self._size:
            self._pending.append(self._pool.submit(self._get, self._next))
            self._next += self.RANGE

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left for ``n < 0``); ``b""`` at the end."""
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(self.RANGE), b""))
        if not self._current:
            if not self._pending:
                return b""
            self._current = memoryview(self._pending.pop(0).result())
            self._fill()
        data, self._current = bytes(self._current[:n]), self._current[n:]
        return data

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RangedReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
