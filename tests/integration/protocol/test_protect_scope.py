"""Publish sends only what the contract describes, with the sender's own pseudonyms."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exchange.errors import DisclosureError
from exchange.protocol.inbound import pull
from exchange.protocol.outbound import ContractBreach, publish
from exchange.protocol.protection import pseudonym_key_path
from tests.support.protocol import dataset


def test_column_outside_the_contract_is_never_sent_and_is_quarantined(nodes, tmp_path):
    tha = nodes["THA"]
    src = dataset("returnees.tha-khm", tmp_path, period="2026-05", seed=4)
    table = pq.read_table(src)
    pq.write_table(table.append_column("full_name", pa.array(["x"] * table.num_rows)), src)
    with pytest.raises((DisclosureError, ContractBreach)):
        publish(tha, src, "returnees.tha-khm", "2026-05")
    assert list(tha.store.list_keys("tha-to-khm", "returnees/2026-05/")) == []
    assert list((tha.home / "quarantine").glob("returnees.tha-khm-2026-05-*"))


def test_records_leave_under_the_senders_own_key_shuffled(nodes, tmp_path):
    tha, khm = nodes["THA"], nodes["KHM"]
    src = dataset("returnees.tha-khm", tmp_path, period="2026-04", seed=6)
    result = publish(tha, src, "returnees.tha-khm", "2026-04")
    assert result.disclosure["privacy"]["pseudonymScope"] == "release"
    assert pseudonym_key_path("THA", tha.settings.identity_dir).is_file()
    landed = [r for r in pull(khm, "THA") if r.exchange_id == result.exchange_id]
    assert landed and landed[0].status == "landed", [r.reason for r in landed]
    received = pq.read_table(landed[0].path)
    raw = pq.read_table(src)
    assert received.num_rows == raw.num_rows
    assert received.column("period").to_pylist() == ["2026-04"] * raw.num_rows
    assert received.column("return_reason").to_pylist() != raw.column("return_reason").to_pylist()
