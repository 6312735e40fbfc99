"""The store failing at an exact point of a publish or a pull (twins of the fault tests in
tests/integration/protocol/test_protocol_faults.py, which kill the real server).

A transient failure leaves nothing half-done that a reader could take for an exchange, no
trace on the receiving side but what a retry finishes, and the retry completes the work.
"""

from __future__ import annotations

import json

import pytest

from exchange.errors import StoreUnavailable
from exchange.protocol.inbound import discover, receive
from exchange.protocol.naming import receipt_key
from exchange.protocol.outbound import publish
from tests.support.memory_store import MemoryStore
from tests.support.protocol import events

CONTRACT = "children_on_the_move.khm-tha"
PERIOD = "2026-10"


def test_store_down_once_the_data_is_uploaded_then_retry_finishes_the_exchange(nodes, source, store):
    khm, tha = nodes["KHM"], nodes["THA"]

    def go_down(size: int) -> None:  # the data is uploaded: writing the manifest is the first call to fail
        store.server.down = True

    with pytest.raises(StoreUnavailable):
        publish(khm, source(), CONTRACT, PERIOD, progress=go_down)
    store.server.down = False
    assert discover(tha, "KHM") == [] and store.server.uploads == {}
    result = publish(khm, source(), CONTRACT, PERIOD)
    assert result.created_now and discover(tha, "KHM") == [result.prefix]
    assert len(events(khm, "publish", exchange_id=result.exchange_id)) == 1


class DownOn(MemoryStore):
    """A party's store on a server that goes down just before the call named ``method``."""

    method = ""

    def _down(self) -> None:
        self.server.down = True

    def open_ranged(self, bucket, key):
        if self.method == "open_ranged":
            self._down()
        return super().open_ranged(bucket, key)

    def put_if_absent(self, bucket, key, data):
        if self.method == "put_if_absent":
            self._down()
        return super().put_if_absent(bucket, key, data)


def test_store_down_before_the_download_leaves_nothing_and_the_retry_lands(nodes, published):
    tha = nodes["THA"]
    honest, tha.store = tha.store, DownOn(tha.store.server, "THA")
    tha.store.method = "open_ranged"
    with pytest.raises(StoreUnavailable):
        receive(tha, "KHM", published.prefix)
    tha.store, honest.server.down = honest, False
    assert not (tha.home / "landing" / "KHM" / published.prefix).exists()
    assert not list((tha.home / "landing" / ".staging").iterdir())
    assert not (tha.home / "inbound" / "KHM" / f"{published.prefix}.json").exists()
    assert receive(tha, "KHM", published.prefix).status == "landed"


def test_receipt_that_could_not_be_sent_goes_out_on_the_next_pull(nodes, published):
    khm, tha = nodes["KHM"], nodes["THA"]
    honest, tha.store = tha.store, DownOn(tha.store.server, "THA")
    tha.store.method = "put_if_absent"
    with pytest.raises(StoreUnavailable):
        receive(tha, "KHM", published.prefix)
    tha.store, honest.server.down = honest, False
    assert (tha.home / "landing" / "KHM" / published.prefix / "data.parquet").exists()
    assert discover(tha, "KHM") == [published.prefix]
    assert receive(tha, "KHM", published.prefix).status == "skipped"
    assert discover(tha, "KHM") == []
    receipt = khm.store.get_bytes("tha-to-khm", receipt_key(*published.prefix.split("/")), 1 << 20)
    assert json.loads(receipt)["status"] == "accepted"
