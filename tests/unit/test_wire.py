"""The strict wire layout of exchange object keys (exchange/protocol/naming.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import ProtocolError
from exchange.protocol.naming import (
    ExchangeRef,
    exchange_prefix,
    is_reserved,
    parse_exchange_key,
    parse_exchange_prefix,
    scan,
)

EID = "0123456789abcdef" * 2


@pytest.mark.parametrize("period", ["2026-10", "2026-01", "2026-Q1", "2026-Q4", "2026"])
@pytest.mark.parametrize("name", ["data.parquet.age", "manifest.json", "manifest.json.minisig"])
def test_genuine_keys_parse(period, name):
    ref = parse_exchange_key(f"children_on_the_move/{period}/{EID}/{name}", "khm-to-tha")
    assert ref == ExchangeRef("khm-to-tha", "children_on_the_move", period, EID)
    assert ref.prefix == f"children_on_the_move/{period}/{EID}"
    assert exchange_prefix(ref.dataset, ref.period, ref.exchange_id) == ref.prefix


@pytest.mark.parametrize("key", [
    f"ds/2026-10/{'é' * 130}/manifest.json",
    f"ds/2026-10/{'a' * 250}/manifest.json",
    f"ds/2026-10/{EID}\n/manifest.json",
    f"ds/2026-10\n/{EID}/manifest.json",
    f"ds\n/2026-10/{EID}/manifest.json",
    f"ds/2026-10/{EID}/manifest.json\n",
    f"ds/2026-10/{EID.upper()}/manifest.json",
    f"ds/2026-10/{EID[:-1]}/manifest.json",
    f"ds/2026-13/{EID}/manifest.json",
    f"ds/2026-Q5/{EID}/manifest.json",
    f"ds/２０２６-10/{EID}/manifest.json",       # fullwidth digits
    f"ds/٢٠٢٦-10/{EID}/manifest.json",            # Arabic-Indic digits
    f"Ds/2026-10/{EID}/manifest.json",
    f"d-s/2026-10/{EID}/manifest.json",
    f"../2026-10/{EID}/manifest.json",
    f"ds/2026-10/{EID}/../manifest.json",
    f"ds/2026-10/{EID}/other.json",
    f"ds/2026-10/{EID}/sub/manifest.json",
    f"/ds/2026-10/{EID}/manifest.json",
    f"ds//2026-10/{EID}/manifest.json",
    f"{'d' * 65}/2026-10/{EID}/manifest.json",
    "manifest.json",
    "",
])
def test_odd_keys_do_not_parse(key):
    assert parse_exchange_key(key) is None


def test_prefix_parse_and_format_are_strict():
    assert parse_exchange_prefix(f"ds/2026-10/{EID}") == ExchangeRef("", "ds", "2026-10", EID)
    for prefix in (f"ds/2026-10/{EID}/", f"ds/2026-10/{EID}\n", "ds/2026-10", None, 42):
        assert parse_exchange_prefix(prefix) is None
    with pytest.raises(ProtocolError):
        exchange_prefix("ds", "2026-10\n", EID)


def test_scan_sorts_out_complete_exchanges_unfinished_ones_reserved_areas_and_odd_keys():
    other = "f" * 32
    keys = [
        f"ds/2026-10/{EID}/data.parquet.age", f"ds/2026-10/{EID}/manifest.json",
        f"ds/2026-10/{EID}/manifest.json.minisig",
        f"ds/2026-10/{other}/data.parquet.age",                       # unfinished publish
        "audit/KHM/checkpoint-00000001.json", f"receipts/ds/2026-10/{EID}.json", "index/KHM-THA/1.json",
        f"ds/2026-10/{'é' * 130}/manifest.json", "stray.txt",
    ]
    found = scan(keys, "khm-to-tha")
    assert found.refs == [ExchangeRef("khm-to-tha", "ds", "2026-10", EID)]
    assert found.ignored == [f"ds/2026-10/{'é' * 130}/manifest.json", "stray.txt"]


GENUINE = f"children_on_the_move/2026-10/{EID}/manifest.json"


def _mutations():
    """A genuine key with characters replaced, inserted or deleted."""
    position = st.integers(0, len(GENUINE) - 1)
    text = st.text(min_size=1, max_size=3)
    return st.one_of(
        st.tuples(position, text).map(lambda p: GENUINE[:p[0]] + p[1] + GENUINE[p[0] + 1:]),
        st.tuples(position, text).map(lambda p: GENUINE[:p[0]] + p[1] + GENUINE[p[0]:]),
        position.map(lambda p: GENUINE[:p] + GENUINE[p + 1:]),
    )


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), _mutations()))
def test_any_key_parses_to_a_ref_that_formats_back_or_to_none(key):
    ref = parse_exchange_key(key)
    if ref is not None:
        assert key == f"{exchange_prefix(ref.dataset, ref.period, ref.exchange_id)}/{key.rsplit('/', 1)[1]}"
        assert key.isascii() and "\n" not in key
    found = scan([key, GENUINE, GENUINE.replace("manifest.json", "manifest.json.minisig")])
    assert len(found.refs) == 1
    assert (key in found.ignored) == (ref is None and not is_reserved(key))
