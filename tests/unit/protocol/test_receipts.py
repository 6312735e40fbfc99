"""Receipts on the in-memory store (twins of the receipt tests in
tests/integration/protocol/test_attacks_receipts_freshness.py and test_attacks_outsider.py).

A receipt counts only when its signature verifies with the recipient's key and it is about the
very exchange, prefix and manifest the sender signed. A slot taken before the recipient writes
its receipt is an alarm, never a silent success, and the receipt goes out once it is cleared.
Exchanges the recipient rejects quickly (data that is not Parquet) keep these tests fast.
"""

from __future__ import annotations

import json

from exchange.protocol.inbound import pull
from exchange.protocol.limits import RECEIPT_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import trusted_comment
from exchange.protocol.naming import receipt_key
from exchange.protocol.receipts import collect_receipts
from exchange.protocol.sent import write_record
from tests.support.protocol import events, forge, manifest_fields

CONTRACT = "children_on_the_move.khm-tha"
PERIOD = "2026-10"
RECEIPTS = "tha-to-khm"


def sent_by_khm(nodes, exchange_id: str, period: str = PERIOD, sequence: int = 1):
    """An exchange KHM signed and recorded as its own, whose data THA will refuse (not Parquet)."""
    khm, tha = nodes["KHM"], nodes["THA"]
    manifest = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, period, exchange_id, sequence=sequence))
    write_record(khm, manifest)
    return manifest


def statuses(node, partner="THA") -> dict[str, str]:
    return {r.exchange_id: r.status for r in collect_receipts(node, partner)}


def test_accepted_receipt_is_verified_and_recorded_once(nodes, published):
    khm, tha = nodes["KHM"], nodes["THA"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    assert statuses(khm) == {published.exchange_id: "accepted"}
    assert json.loads((khm.home / "outbound" / published.exchange_id / "receipt.json").read_text())["status"] \
        == "accepted"
    assert statuses(khm) == {}  # recorded: not collected again
    assert events(khm, "receipt", direction="received", exchange_id=published.exchange_id, status="accepted")


def test_rejected_receipt_carries_the_reason(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    manifest = sent_by_khm(nodes, "a" * 32)
    assert [r.status for r in pull(tha, "KHM")] == ["rejected"]
    [found] = collect_receipts(khm, "THA")
    assert (found.exchange_id, found.status) == (manifest.exchange_id, "rejected") and "Parquet" in found.reason


def test_bucket_key_only_preplanted_receipt_slot_is_an_alarm_once_and_the_receipt_goes_out_once_cleared(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    manifest = sent_by_khm(nodes, "a" * 32)
    key = receipt_key(manifest.dataset, PERIOD, manifest.exchange_id)
    tha.store.put_bytes(RECEIPTS, key, b'{"status":"accepted"}')  # THA's bucket key, not its signing key
    tha.store.put_bytes(RECEIPTS, key + ".minisig", b"junk")

    assert [r.status for r in pull(tha, "KHM")] == ["rejected"]
    assert [r.status for r in pull(tha, "KHM")] == ["skipped"]  # the receipt stays pending; alarmed once
    [alarm] = events(tha, "alarm", kind="receipt-slot-taken")
    assert (alarm["exchange_id"], alarm["status"]) == (manifest.exchange_id, "rejected")
    assert not events(tha, "receipt", exchange_id=manifest.exchange_id)
    assert statuses(khm) == {manifest.exchange_id: "invalid"}

    del tha.store.objects[RECEIPTS][key], tha.store.objects[RECEIPTS][key + ".minisig"]
    assert [r.status for r in pull(tha, "KHM")] == ["skipped"]  # decided before; its receipt goes out now
    assert pull(tha, "KHM") == []
    assert events(tha, "receipt", direction="sent", exchange_id=manifest.exchange_id, status="rejected")
    assert statuses(khm) == {manifest.exchange_id: "rejected"}  # read although that key was invalid before
    assert len(events(tha, "alarm", kind="receipt-slot-taken")) == 1


def test_bucket_key_only_tampered_receipt_is_invalid_and_audited_once(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    manifest = sent_by_khm(nodes, "a" * 32)
    pull(tha, "KHM")
    key = receipt_key(manifest.dataset, PERIOD, manifest.exchange_id)
    body = tha.store.get_bytes(RECEIPTS, key, RECEIPT_MAX)
    tha.store.put_bytes(RECEIPTS, key, body.replace(b'"rejected"', b'"accepted"'))

    assert statuses(khm) == {manifest.exchange_id: "invalid"}
    assert statuses(khm) == {}  # remembered by its content
    assert not (khm.home / "outbound" / manifest.exchange_id / "receipt.json").exists()
    assert len(events(khm, "receipt", exchange_id=manifest.exchange_id, status="invalid")) == 1


def test_bucket_key_only_receipt_copied_from_another_exchange_is_invalid(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    one = sent_by_khm(nodes, "a" * 32)
    two = sent_by_khm(nodes, "b" * 32, period="2026-11", sequence=2)
    pull(tha, "KHM")
    source, target = (receipt_key(m.dataset, m.period, m.exchange_id) for m in (one, two))
    for suffix, limit in (("", RECEIPT_MAX), (".minisig", SIGNATURE_MAX)):
        tha.store.put_bytes(RECEIPTS, target + suffix, tha.store.get_bytes(RECEIPTS, source + suffix, limit))

    found = {r.exchange_id: r for r in collect_receipts(khm, "THA")}

    assert found[one.exchange_id].status == "rejected"
    assert found[two.exchange_id].status == "invalid"
    assert "another exchange, prefix or manifest" in found[two.exchange_id].reason


def test_partner_with_valid_keys_receipt_signature_naming_another_receipt_is_invalid(nodes):
    khm, tha = nodes["KHM"], nodes["THA"]
    manifest = sent_by_khm(nodes, "a" * 32)
    pull(tha, "KHM")
    key = receipt_key(manifest.dataset, PERIOD, manifest.exchange_id)
    body = tha.store.get_bytes(RECEIPTS, key, RECEIPT_MAX)
    other = trusted_comment("receipt", "b" * 32, manifest.dataset, PERIOD, "KHM", "THA")
    tha.store.put_bytes(RECEIPTS, key + ".minisig", tha.identity.signing_key.sign(body, other))
    [found] = collect_receipts(khm, "THA")
    assert found.status == "invalid" and "signature names another receipt" in found.reason


def test_bucket_key_only_oversized_receipt_is_invalid_and_read_no_further_than_its_limit(nodes, store):
    khm = nodes["KHM"]
    manifest = sent_by_khm(nodes, "a" * 32)
    key = receipt_key(manifest.dataset, PERIOD, manifest.exchange_id)
    nodes["THA"].store.put_bytes(RECEIPTS, key, b"{" + b" " * (4 << 20) + b"}")
    nodes["THA"].store.put_bytes(RECEIPTS, key + ".minisig", b"junk")
    store.server.served = 0
    [found] = collect_receipts(khm, "THA")
    assert found.status == "invalid" and "larger than" in found.reason
    assert store.server.served <= RECEIPT_MAX + SIGNATURE_MAX + 2 + 64 * 1024  # + the partner's checkpoints


def test_bucket_key_only_replaced_manifest_is_sent_again_as_a_new_revision(nodes, store, source, published):
    """With KHM's bucket key, one byte of a just-published manifest is changed: THA rightly
    rejects it, its signed receipt names the manifest it saw. KHM counts that as a rejection
    of its exchange (with an alarm), so the next publish sends the same input again."""
    from exchange.protocol.limits import MANIFEST_MAX
    from exchange.protocol.outbound import publish

    khm, tha = nodes["KHM"], nodes["THA"]
    key = f"{published.prefix}/manifest.json"
    attacker = store.as_party(None)
    attacker.put_bytes("khm-to-tha", key, attacker.get_bytes("khm-to-tha", key, MANIFEST_MAX) + b" ")
    assert [r.status for r in pull(tha, "KHM")] == ["rejected"]
    assert statuses(khm) == {published.exchange_id: "rejected"}
    assert events(khm, "alarm", kind="manifest-replaced", exchange_id=published.exchange_id)

    again = publish(khm, source(), CONTRACT, PERIOD)
    assert again.revision == published.revision + 1 and again.exchange_id != published.exchange_id
    assert [(r.exchange_id, r.status) for r in pull(tha, "KHM")] == [(again.exchange_id, "landed")]
    assert statuses(khm) == {again.exchange_id: "accepted"}
