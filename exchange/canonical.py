"""The bytes that are signed and hashed: one canonical JSON form for every wire object.

Manifests, receipts, freshness index entries, audit checkpoints and the contract hash are all
``canonical_json`` of their JSON value: keys sorted, no whitespace, UTF-8, no NaN or infinity
(they are not JSON). A reader re-serialising what it parsed gets the very bytes that were
signed, so a hash can be recomputed from a stored copy.

The audit log is the one place that escapes non-ASCII (``ascii=True``): each line stays plain
ASCII, so no partner-chosen character (a line separator, a bidi override) can split a line or
hide text in a terminal, and ``sed -n 6p | sha256sum`` works everywhere.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any, *, ascii: bool = False) -> bytes:
    """The one byte form of a JSON value that is hashed and signed.

    Raises ValueError for NaN or infinity (not JSON) and TypeError for a value that is not JSON.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii, allow_nan=False)
    return text.encode("ascii" if ascii else "utf-8")
