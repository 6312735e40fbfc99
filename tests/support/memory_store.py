"""An in-memory S3 for fast protocol tests: the real :class:`exchange.storage.s3.Store` on a
fake boto3 client.

``MemoryStore`` *is* a ``Store`` (same methods, same code path), so its semantics are the
S3 store's by construction: typed errors from botocore error codes (``NotFound``,
``AccessDenied``, ``StoreUnavailable``, ``ObjectTooLarge``), create-only writes
(``If-None-Match: *``), multipart uploads visible only once completed, ranged reads,
key-ordered listing in pages, bounded ``get_bytes``. Only the server is replaced: buckets are
dicts in memory. What needs the real server (its HTTP, its credentials store, being killed
mid-transfer) stays in the SeaweedFS tests.

Each party's view enforces the rights the dev server gives (:mod:`exchange.devkit.seaweed`):
it writes and reads its outbound buckets ``{party}-to-*`` and reads its inbound ones
``*-to-{party}``. ``MemoryStore.as_party(None)`` is an admin (a test planting objects).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from email.utils import format_datetime

from botocore.exceptions import ClientError, EndpointConnectionError

from exchange import clock
from exchange.storage.s3 import Store

PAGE = 1000  # keys per ListObjectsV2 page, as S3


def _error(code: str, status: int, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


class Body(io.BytesIO):
    """A response body that counts what the caller read of it (``server.served``)."""

    def __init__(self, data: bytes, served: Callable[[int], None]):
        super().__init__(data)
        self._served = served

    def read(self, n: int | None = -1) -> bytes:
        chunk = super().read(n)
        self._served(len(chunk))
        return chunk


class MemoryS3:
    """The server: buckets of key -> bytes, pending multipart uploads, and counters.

    ``down`` makes every request fail as an unreachable endpoint (transient) until reset;
    ``served`` counts the bytes handed out in response bodies (for bounded-read tests).
    """

    def __init__(self, buckets: Iterable[str]):
        self.objects: dict[str, dict[str, bytes]] = {b: {} for b in buckets}
        self.modified: dict[tuple[str, str], datetime] = {}  # LastModified, from exchange.clock
        self.uploads: dict[str, tuple[str, str, dict[int, bytes]]] = {}
        self.down = False
        self.served = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add_served(self, n: int) -> None:
        with self._lock:
            self.served += n


class MemoryClient:
    """The subset of boto3's S3 client the Store uses, against a :class:`MemoryS3`."""

    def __init__(self, server: MemoryS3, party: str | None):
        self.server, self.party = server, party

    def _bucket(self, bucket: str, operation: str, write: bool = False) -> dict[str, bytes]:
        server = self.server
        if server.down:
            raise EndpointConnectionError(endpoint_url="memory://s3")
        if bucket not in server.objects:
            raise _error("NoSuchBucket", 404, operation)
        if self.party is not None:
            own = bucket.startswith(f"{self.party.lower()}-to-")
            if not own and (write or not bucket.endswith(f"-to-{self.party.lower()}")):
                raise _error("AccessDenied", 403, operation)
        return server.objects[bucket]

    def head_bucket(self, Bucket: str) -> dict:
        self._bucket(Bucket, "ListObjectsV2")  # S3 asks for the right to list
        return {"ResponseMetadata": {"HTTPHeaders": {"date": format_datetime(clock.now(), usegmt=True)}}}

    def head_object(self, Bucket: str, Key: str) -> dict:
        objects = self._bucket(Bucket, "HeadObject")
        if Key not in objects:
            raise _error("404", 404, "HeadObject")  # HEAD has no body, so no error code
        return {"ContentLength": len(objects[Key]),
                "LastModified": self.server.modified.get((Bucket, Key)) or clock.now(),  # planted by a test: now
                "ResponseMetadata": {"HTTPHeaders": {"date": format_datetime(clock.now(), usegmt=True)}}}

    def get_object(self, Bucket: str, Key: str, Range: str | None = None) -> dict:
        objects = self._bucket(Bucket, "GetObject")
        if Key not in objects:
            raise _error("NoSuchKey", 404, "GetObject")
        data = objects[Key]
        if Range:
            start, end = (int(n) for n in Range.removeprefix("bytes=").split("-"))
            data = data[start:end + 1]
        return {"Body": Body(data, self.server.add_served), "ContentLength": len(data)}

    def put_object(self, Bucket: str, Key: str, Body: bytes, IfNoneMatch: str | None = None) -> dict:
        objects = self._bucket(Bucket, "PutObject", write=True)
        if IfNoneMatch == "*" and Key in objects:
            raise _error("PreconditionFailed", 412, "PutObject")
        objects[Key] = bytes(Body)
        self.server.modified[Bucket, Key] = clock.now()
        return {"ETag": "memory"}

    def delete_object(self, Bucket: str, Key: str) -> dict:
        self._bucket(Bucket, "DeleteObject", write=True).pop(Key, None)
        return {}

    def create_multipart_upload(self, Bucket: str, Key: str) -> dict:
        self._bucket(Bucket, "CreateMultipartUpload", write=True)
        upload = str(next(self.server._ids))
        self.server.uploads[upload] = (Bucket, Key, {})
        return {"UploadId": upload}

    def _upload(self, bucket: str, key: str, upload: str, operation: str) -> dict[int, bytes]:
        self._bucket(bucket, operation, write=True)
        found = self.server.uploads.get(upload)
        if found is None or found[:2] != (bucket, key):
            raise _error("NoSuchUpload", 404, operation)
        return found[2]

    def upload_part(self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body) -> dict:
        self._upload(Bucket, Key, UploadId, "UploadPart")[PartNumber] = bytes(Body)
        return {"ETag": f"part-{PartNumber}"}

    def complete_multipart_upload(self, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict) -> dict:
        parts = self._upload(Bucket, Key, UploadId, "CompleteMultipartUpload")
        data = b"".join(parts[p["PartNumber"]] for p in MultipartUpload["Parts"])
        del self.server.uploads[UploadId]
        self.server.objects[Bucket][Key] = data
        self.server.modified[Bucket, Key] = clock.now()
        return {"ETag": "memory"}

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str) -> dict:
        self._upload(Bucket, Key, UploadId, "AbortMultipartUpload")
        del self.server.uploads[UploadId]
        return {}

    def list_multipart_uploads(self, Bucket: str) -> dict:
        self._bucket(Bucket, "ListMultipartUploads")
        return {"Uploads": [{"Key": key, "UploadId": upload}
                            for upload, (bucket, key, _) in self.server.uploads.items() if bucket == Bucket]}

    def get_paginator(self, name: str):
        assert name == "list_objects_v2", name
        return self

    def paginate(self, Bucket: str, Prefix: str = "") -> Iterator[dict]:
        keys = sorted(k for k in self._bucket(Bucket, "ListObjectsV2") if k.startswith(Prefix))
        for start in range(0, max(len(keys), 1), PAGE):
            yield {"Contents": [{"Key": k, "Size": len(self.server.objects[Bucket][k]),
                                 "ETag": f'"{hashlib.md5(self.server.objects[Bucket][k]).hexdigest()}"'}  # noqa: S324 - S3's
                                for k in keys[start:start + PAGE]]}


class MemoryStore(Store):
    """The S3 store of the exchange on an in-memory server (one party's view of it)."""

    def __init__(self, buckets: Iterable[str] | MemoryS3, party: str | None = None):
        self.server = buckets if isinstance(buckets, MemoryS3) else MemoryS3(buckets)
        super().__init__(MemoryClient(self.server, party))

    @property
    def objects(self) -> dict[str, dict[str, bytes]]:
        """The server's buckets (key -> bytes), for tests to look at or tamper with directly."""
        return self.server.objects

    def as_party(self, party: str | None) -> MemoryStore:
        """The same server seen with ``party``'s credentials (``None``: an admin)."""
        return MemoryStore(self.server, party)
