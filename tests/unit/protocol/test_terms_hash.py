"""The usage terms' hash on the wire (in-memory store): the manifest names the retention, purpose
and prohibited uses it was sent under (``terms_sha256``), the recipient refuses any other than its
own contract's and acknowledges them in its signed receipt; the sender refuses an acknowledgement
of other terms."""

from __future__ import annotations

import json

from exchange.protocol.inbound import pull
from exchange.protocol.naming import QUARANTINE, receipt_key
from exchange.protocol.receipts import Receipt, collect_receipts, send_receipt
from exchange.protocol.sent import write_record
from tests.support.protocol import forge, manifest_fields

CONTRACT = "children_on_the_move.khm-tha"
PERIOD = "2026-10"


def test_the_manifest_names_the_terms_and_the_accepted_receipt_acknowledges_them(nodes, published, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    terms = khm.contract(CONTRACT).usage.sha256
    manifest = json.loads(store.objects["khm-to-tha"][f"{published.prefix}/manifest.json"])
    assert manifest["terms_sha256"] == terms
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    key = receipt_key(manifest["dataset"], PERIOD, published.exchange_id)
    receipt = json.loads(store.objects["tha-to-khm"][key])
    assert (receipt["status"], receipt["terms_sha256"]) == ("accepted", terms)
    assert [r.status for r in collect_receipts(khm, "THA")] == ["accepted"]


def test_partner_with_valid_keys_sending_under_other_terms_is_rejected_and_quarantined(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    fields = manifest_fields(khm, tha, CONTRACT, PERIOD, "b" * 32, terms_sha256="0" * 64)
    forge(khm, tha, fields)
    [result] = pull(tha, "KHM")
    assert result.status == "rejected" and "terms_sha256" in result.reason
    assert "retention, purpose and prohibited uses" in result.reason
    reason = json.loads((tha.home / QUARANTINE / ("b" * 32) / "reason.json").read_text())["reason"]
    assert "terms_sha256" in reason


def test_partner_with_valid_keys_acknowledging_other_terms_gives_an_invalid_receipt(nodes, published, store):
    khm, tha = nodes["KHM"], nodes["THA"]
    own = json.loads((khm.home / "outbound" / published.exchange_id / "manifest.json").read_text())
    doc = Receipt.answer(published.exchange_id, own["dataset"], PERIOD, "KHM", "THA", True, "", None,
                         _sha256(store, published), "f" * 64)
    send_receipt(tha, "KHM", doc)
    [found] = collect_receipts(khm, "THA")
    assert found.status == "invalid" and "usage terms" in found.reason


def _sha256(store, published) -> str:
    import hashlib

    return hashlib.sha256(store.objects["khm-to-tha"][f"{published.prefix}/manifest.json"]).hexdigest()


def test_an_old_record_without_terms_still_reads_and_hashes_as_it_was_signed(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    fields = manifest_fields(khm, tha, CONTRACT, PERIOD, "c" * 32)
    del fields["terms_sha256"]
    manifest = forge(khm, tha, fields)
    assert manifest.terms_sha256 == "" and b"terms_sha256" not in manifest.to_json()
    write_record(khm, manifest)
