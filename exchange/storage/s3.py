"""The S3 object store of the exchange, on boto3.

Generic object operations only (what keys mean is :mod:`exchange.protocol.naming`):
streaming in both directions (multipart upload fed by a writer, chunked download) with
a running SHA-256, create-only writes, listing by prefix, and typed errors of one family,
``StoreError`` (bucket, key, action): ``AccessDenied``, ``ObjectNotFound``, ``StoreRefused``
(terminal) and ``StoreUnavailable`` (transient, retry).

Create-only writes use S3 conditional puts (``If-None-Match: *``; AWS S3 and
SeaweedFS honour it). As a fallback for servers that ignore the header, the store
first checks with HEAD; with one writer per bucket (the design's rule) the only
racer is the writer's own retry, which the HEAD check catches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from exchange import clock
from exchange.errors import (
    AccessDenied,
    NotFound,
    ObjectNotFound,
    ObjectTooLarge,
    StoreError,
    StoreRefused,
    StoreUnavailable,
)
from exchange.settings import Settings
from exchange.storage.transfer import MultipartWriter, Progress, RangedReader, Transferred

PART_SIZE = 8 * 1024 * 1024
LISTED_MAX = 100_000  # keys one listing returns: decades of exchanges, far below a flood's memory
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled",
           "InvalidToken", "ExpiredToken", "403"}
_MISSING = {"NoSuchKey", "NoSuchBucket", "NoSuchUpload", "404", "NotFound"}


def client_config() -> Config:
    """botocore settings that suit AWS S3 and S3-compatible stores alike."""
    return Config(
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def translate(exc: Exception, action: str, bucket: str, key: str = "") -> StoreError:
    """Map a boto3/botocore exception to the exchange's typed store errors (bucket, key, action)."""
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    fields = {"bucket": bucket, "key": key or None, "action": action}
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _DENIED or status == 403:
            return AccessDenied(f"{action} {where} refused ({code or status})",
                                hint="check this party's S3 credentials and that it may use this bucket", **fields)
        if code in _MISSING or status == 404:
            return ObjectNotFound(f"{action} {where}: not found ({code or status})",
                                  hint="check the bucket name, dataset, period and exchange id", **fields)
        if status >= 500 or code in {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"}:
            return StoreUnavailable(f"{action} {where}: server error {code or status}",
                                    hint="the store is busy or down; retry later", **fields)
        return StoreRefused(f"{action} {where} failed: {code or status}",
                            hint="the store refused the request; check the bucket and the S3 server's log",
                            **fields)
    if isinstance(exc, BotoCoreError | OSError):
        return StoreUnavailable(f"{action} {where}: store unreachable ({type(exc).__name__})",
                                hint="check GCMX_S3_ENDPOINT and that the S3 server is up; retry", **fields)
    raise exc


def _answered_at(response: dict) -> datetime | None:
    """The store's clock when it answered: the response's HTTP ``Date`` (None if it sent none)."""
    try:
        return parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return None


class Store:
    """S3 operations of the exchange, over one boto3 client."""

    def __init__(self, client):
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """A store for the endpoint and credentials in ``GCMX_S3_*`` (or boto3's defaults)."""
        secret = settings.s3_secret_access_key
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=client_config(),
        )
        return cls(client)

    def _call(self, action: str, bucket: str, key: str, operation):
        try:
            return operation(self.client)
        except (ClientError, BotoCoreError, OSError) as exc:
            raise translate(exc, action, bucket, key) from None

    @contextmanager
    def writer(self, bucket: str, key: str, *, part_size: int = PART_SIZE,
               progress: Progress | None = None) -> Iterator[MultipartWriter]:
        """Write an object as a stream; it appears only if the block completes without error."""
        writer = MultipartWriter(self._call, bucket, key, part_size, progress)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise
        try:
            writer.finish()
        except BaseException:
            writer.abort()
            raise

    def upload(self, bucket: str, key: str, src: BinaryIO, *, part_size: int = PART_SIZE,
               progress: Progress | None = None) -> Transferred:
        """Stream ``src`` into ``bucket/key``; returns its size and SHA-256."""
        with self.writer(bucket, key, part_size=part_size, progress=progress) as out:
            while chunk := src.read(part_size):
                out.write(chunk)
        return out.result

    def download(self, bucket: str, key: str, dst: BinaryIO, *, chunk_size: int = 1 << 20,
                 progress: Progress | None = None) -> Transferred:
        """Stream ``bucket/key`` into ``dst``; returns its size and SHA-256."""
        body = self._call("download", bucket, key, lambda c: c.get_object(Bucket=bucket, Key=key))["Body"]
        digest, size = hashlib.sha256(), 0
        try:
            while chunk := body.read(chunk_size):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
        except (BotoCoreError, OSError) as exc:
            raise translate(exc, "download", bucket, key) from None
        finally:
            body.close()
        return Transferred(size, digest.hexdigest())

    def open(self, bucket: str, key: str) -> BinaryIO:
        """A readable stream of ``bucket/key`` (close it when done)."""
        return self._call("open", bucket, key, lambda c: c.get_object(Bucket=bucket, Key=key))["Body"]

    def open_ranged(self, bucket: str, key: str) -> RangedReader:
        """A readable stream of a large object, fetched in parallel ranges (use as a context)."""
        head = self._call("check", bucket, key, lambda c: c.head_object(Bucket=bucket, Key=key))
        return RangedReader(self._call, bucket, key, int(head["ContentLength"]))

    def get_bytes(self, bucket: str, key: str, limit: int) -> bytes:
        """A small object (manifest, signature, receipt) in full, of at most ``limit`` bytes.

        Objects read before their signature is verified may have been planted with a leaked
        bucket key: a larger one raises :class:`ObjectTooLarge` without being read further.
        """
        with self.open(bucket, key) as body:
            try:
                data = body.read(limit + 1)
            except (BotoCoreError, OSError) as exc:
                raise translate(exc, "read", bucket, key) from None
        if len(data) > limit:
            raise ObjectTooLarge(f"s3://{bucket}/{key} is larger than {limit} bytes",
                                 hint="no genuine object of this kind is that large; it was planted or "
                                      "corrupted: tell the partner and remove it", bucket=bucket, key=key, limit=limit)
        return data

    def exists(self, bucket: str, key: str) -> bool:
        """Whether ``bucket/key`` exists."""
        try:
            self._call("check", bucket, key, lambda c: c.head_object(Bucket=bucket, Key=key))
            return True
        except NotFound:
            return False

    def last_modified(self, bucket: str, key: str) -> datetime:
        """When the store says ``bucket/key`` was written (S3 ``LastModified``, its own clock, UTC):
        a time observed beside the times an object asserts about itself."""
        head = self._call("check", bucket, key, lambda c: c.head_object(Bucket=bucket, Key=key))
        return head["LastModified"].astimezone(UTC)

    def now(self, bucket: str) -> datetime | None:
        """The store's own clock: the ``Date`` of its answer to a HEAD of ``bucket`` (None if it
        sends none)."""
        return _answered_at(self._call("check", bucket, "", lambda c: c.head_bucket(Bucket=bucket)))

    def written(self, bucket: str, key: str) -> tuple[datetime, datetime]:
        """``(now, written)`` both on the store's own clock: the ``Date`` of its answer (the local clock
        if it sends none) and the object's ``LastModified``; their difference is the object's age,
        whatever the clocks of the machines that wrote and read it say."""
        head = self._call("check", bucket, key, lambda c: c.head_object(Bucket=bucket, Key=key))
        return _answered_at(head) or clock.now(), head["LastModified"].astimezone(UTC)

    def delete(self, bucket: str, key: str) -> None:
        """Delete ``bucket/key``; deleting a key that is not there is no error (S3's own rule),
        so a retried deletion is harmless."""
        self._call("delete", bucket, key, lambda c: c.delete_object(Bucket=bucket, Key=key))

    def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        """Write a small object, replacing any previous one (audit checkpoints)."""
        self._call("write", bucket, key, lambda c: c.put_object(Bucket=bucket, Key=key, Body=data))

    def put_if_absent(self, bucket: str, key: str, data: bytes) -> bool:
        """Create ``bucket/key`` only if it does not exist; True if this call created it."""
        if self.exists(bucket, key):
            return False
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412",
                                                              "ConditionalRequestConflict"}:
                return False
            raise translate(exc, "create", bucket, key) from None
        except (BotoCoreError, OSError) as exc:
            raise translate(exc, "create", bucket, key) from None
        return True

    def list_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``, in key order; ObjectTooLarge past :data:`LISTED_MAX` keys
        (a leaked bucket key could plant millions: a clear refusal, not a reader out of memory)."""
        return (key for key, _ in self.list_tagged(bucket, prefix))

    def list_tagged(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, str]]:
        """``(key, ETag)`` of every object under ``prefix``, as :meth:`list_keys` lists them: the
        ETag tells a rewritten object from the one seen before without reading it."""
        paginator = self.client.get_paginator("list_objects_v2")
        count = 0
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    count += 1
                    if count > LISTED_MAX:
                        raise ObjectTooLarge(
                            f"s3://{bucket}/{prefix} holds more than {LISTED_MAX} objects, far more than "
                            "any genuine exchange writes", hint="someone with the bucket key may have planted "
                            "objects: list them (aws s3 ls --recursive), remove what no party signed, and tell "
                            "the bucket's owner", bucket=bucket, key=prefix, limit=LISTED_MAX)
                    yield item["Key"], str(item.get("ETag", ""))
        except (ClientError, BotoCoreError, OSError) as exc:
            raise translate(exc, "list", bucket, prefix) from None
