"""Deletion statement keys (exchange/protocol/naming.py, deletion statements block): round trips
and odd keys, like the receipts'."""

from __future__ import annotations

import pytest
from hypothesis import given

from exchange.protocol import naming
from exchange.protocol.naming import ExchangeRef, is_reserved, parse_exchange_key
from tests.unit.test_naming import EID, datasets, exchange_ids, periods


@given(datasets, periods, exchange_ids)
def test_deletion_keys_round_trip(dataset, period, exchange_id):
    key = naming.deletion_key(dataset, period, exchange_id)
    assert naming.parse_deletion_key(key, "tha-to-khm") == ExchangeRef("tha-to-khm", dataset, period, exchange_id)
    assert is_reserved(key) and parse_exchange_key(key) is None
    assert naming.parse_deletion_key(naming.signature_key(key)) is None
    assert naming.parse_receipt_key(key) is None


@pytest.mark.parametrize("key", [f"deletions/ds/2026-10/{EID}.json.minisig", f"deletions/ds/2026-10/{EID}",
                                 f"receipts/ds/2026-10/{EID}.json", f"deletions/../2026-10/{EID}.json",
                                 f"deletions/ds/2026-10/{EID.upper()}.json", None])
def test_odd_deletion_keys_do_not_parse(key):
    assert naming.parse_deletion_key(key) is None
