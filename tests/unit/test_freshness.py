"""The sender's index entries (exchange.protocol.freshness): typed, bounded parsing of untrusted bytes,
and `gcmx audit verify` checking against the latest local checkpoint by default."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import ObjectTooLarge, ProtocolError
from exchange.protocol.freshness import FORMAT, GENESIS, IndexEntry
from exchange.protocol.limits import STATEMENT_MAX
from exchange.protocol.naming import index_key

ENTRY = IndexEntry(format=FORMAT, sender="KHM", recipient="THA", bucket="khm-to-tha", seq=3,
                   exchange_id="0123456789abcdef" * 2, dataset="children_on_the_move", period="2026-10",
                   created="2026-11-01T00:00:00Z", manifest_sha256="a" * 64, ciphertext_sha256="b" * 64,
                   prev=GENESIS)


def test_round_trip_and_layout():
    body = ENTRY.to_json()
    assert IndexEntry.from_json(body, "t") == ENTRY
    assert index_key(3) == "index/00000003.json"
    assert ENTRY.prefix == f"children_on_the_move/2026-10/{ENTRY.exchange_id}"
    assert ENTRY.comment() == f"gcmx index KHM->THA seq=3 sha256={ENTRY.sha256}"


def test_oversized_entry_is_refused_unparsed():
    with pytest.raises(ObjectTooLarge):
        IndexEntry.from_json(b" " * (STATEMENT_MAX + 1), "s3://khm-to-tha/index/00000001.json")


@pytest.mark.parametrize("field, value", [
    ("seq", 0), ("seq", True), ("seq", "3"), ("seq", 10**9), ("exchange_id", "../../etc"),
    ("dataset", "a/b"), ("period", "2026-10\n"), ("manifest_sha256", "A" * 64), ("prev", None),
    ("format", "gcmx-index/2"), ("sender", "khm"), ("bucket", "khm-to-tha/x"), ("created", "é"),
])
def test_a_malformed_field_is_named(field, value):
    raw = {**json.loads(ENTRY.to_json()), field: value}
    with pytest.raises(ProtocolError) as err:
        IndexEntry.from_json(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode(), "where")
    assert "where" in err.value.message


@pytest.mark.parametrize("change", [
    lambda raw: {**raw, "extra": 1},
    lambda raw: {k: v for k, v in raw.items() if k != "prev"},
])
def test_missing_or_unknown_fields(change):
    raw = change(json.loads(ENTRY.to_json()))
    with pytest.raises(ProtocolError):
        IndexEntry.from_json(json.dumps(raw, sort_keys=True, separators=(",", ":")).encode(), "t")


def test_deeply_nested_json_is_a_typed_error():
    with pytest.raises(ProtocolError):
        IndexEntry.from_json(b"[" * 60000, "t")


def test_non_canonical_bytes_are_refused():
    with pytest.raises(ProtocolError) as err:
        IndexEntry.from_json(json.dumps(json.loads(ENTRY.to_json()), sort_keys=True).encode(), "t")
    assert "canonical" in err.value.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_give_only_typed_errors(data):
    with pytest.raises(ProtocolError):
        IndexEntry.from_json(data, "t")


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_mutated_entries_give_only_typed_errors(position, byte):
    body = bytearray(ENTRY.to_json())
    index = position % len(body)
    if body[index] == byte:
        return
    body[index] = byte
    try:
        entry = IndexEntry.from_json(bytes(body), "t")
    except ProtocolError:
        return
    assert entry != ENTRY and entry.to_json() == bytes(body)  # a still-valid entry is another one
