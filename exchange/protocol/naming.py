"""The wire layout of a bucket: the one strict parse and format of exchange object keys.

Every object of an exchange lives at ``{dataset}/{period}/{exchange_id}/{name}``:

* ``dataset``: ``[a-z0-9_]``, 1 to 64 characters;
* ``period``: ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` (ASCII digits only);
* ``exchange_id``: 32 lowercase hexadecimal digits;
* ``name``: ``data.parquet.age``, ``manifest.json`` or ``manifest.json.minisig``.

Top-level areas that are not datasets (``audit/``, ``receipts/``, ``index/``) are
reserved. Any other key was not written by a gcmx sender (it was planted with a leaked
bucket key, or is debris): readers ignore it and never use it as a file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from exchange.errors import ProtocolError
from exchange.protocol.manifest import DATA

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.minisig"
OBJECT_NAMES = frozenset({DATA, MANIFEST, SIGNATURE})
RESERVED = frozenset({"audit", "receipts", "index"})

_DATASET = re.compile(r"[a-z0-9_]{1,64}")
_PERIOD = re.compile(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?")
_EXCHANGE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class ExchangeRef:
    """One exchange in a bucket, named by its prefix ``{dataset}/{period}/{exchange_id}``."""

    bucket: str
    dataset: str
    period: str
    exchange_id: str

    @property
    def prefix(self) -> str:
        return f"{self.dataset}/{self.period}/{self.exchange_id}"

    def where(self, name: str = "") -> str:
        """``s3://bucket/prefix[/name]`` for messages."""
        return f"s3://{self.bucket}/{self.prefix}" + (f"/{name}" if name else "")


@dataclass(frozen=True)
class Scan:
    """A bucket listing sorted out: complete exchanges, and keys that fit no layout."""

    refs: list[ExchangeRef] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _parts_ok(dataset: str, period: str, exchange_id: str) -> bool:
    return bool(_DATASET.fullmatch(dataset) and _PERIOD.fullmatch(period) and _EXCHANGE_ID.fullmatch(exchange_id))


def parse_exchange_prefix(prefix: str, bucket: str = "") -> ExchangeRef | None:
    """The exchange named by ``{dataset}/{period}/{exchange_id}``, or None if it does not fit."""
    parts = prefix.split("/") if isinstance(prefix, str) else []
    if len(parts) != 3 or not _parts_ok(*parts):
        return None
    return ExchangeRef(bucket, *parts)


def parse_exchange_key(key: str, bucket: str = "") -> ExchangeRef | None:
    """The exchange an object key belongs to, or None if the key does not fit the wire layout."""
    if not isinstance(key, str):
        return None
    prefix, _, name = key.rpartition("/")
    return parse_exchange_prefix(prefix, bucket) if name in OBJECT_NAMES else None


def exchange_prefix(dataset: str, period: str, exchange_id: str) -> str:
    """Format a prefix; ProtocolError if a part would not parse back."""
    if not _parts_ok(dataset, period, exchange_id):
        raise ProtocolError(f"not an exchange prefix: dataset {dataset!r}, period {period!r}, "
                            f"exchange id {exchange_id!r}",
                            hint="datasets are [a-z0-9_], periods YYYY-MM/YYYY-Qn/YYYY, ids 32 hex digits")
    return f"{dataset}/{period}/{exchange_id}"


def is_reserved(key: str) -> bool:
    """Whether ``key`` lies in a top-level area that is not a dataset (audit, receipts, index)."""
    return key.split("/", 1)[0] in RESERVED


def scan(keys: Iterable[str], bucket: str = "") -> Scan:
    """Sort a listing into complete exchanges (manifest and signature present) and odd keys.

    Keys of reserved areas are neither. A prefix with data but no signed manifest is an
    unfinished publish: not an exchange yet, and not odd either.
    """
    seen: dict[ExchangeRef, set[str]] = {}
    ignored = []
    for key in keys:
        if is_reserved(key):
            continue
        ref = parse_exchange_key(key, bucket)
        if ref is None:
            ignored.append(key)
        else:
            seen.setdefault(ref, set()).add(key.rsplit("/", 1)[1])
    refs = [ref for ref, names in sorted(seen.items(), key=lambda item: item[0].prefix)
            if {MANIFEST, SIGNATURE} <= names]
    return Scan(refs, ignored)
