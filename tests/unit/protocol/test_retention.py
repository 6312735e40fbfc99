"""Retention on the in-memory store with a clock the test moves (exchange.clock.shifted): when an
exchange's retention ends both sides delete it, sign a deletion statement, and the sender verifies
the recipient's; nothing whose retention has not ended is touched; reruns change nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from exchange import clock
from exchange.protocol.deletion import DeletionStatement, collect_deletions
from exchange.protocol.inbound import pull
from exchange.protocol.naming import deletion_key, signature_key
from exchange.protocol.outbound import publish
from exchange.protocol.receipts import collect_receipts
from exchange.protocol.retention import apply_retention
from tests.support.protocol import events

CONTRACT = "children_on_the_move.khm-tha"
YEAR = timedelta(days=365)
AFTER = 5 * YEAR + timedelta(days=3)  # past the contracts' 5 years (leap days included)


@pytest.fixture
def exchanged(nodes, published, source):
    """KHM sent an exchange now and another two years later; THA landed both, KHM has receipts."""
    khm, tha = nodes["KHM"], nodes["THA"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    with clock.shifted(2 * YEAR):
        later = publish(khm, source(period="2026-11"), CONTRACT, "2026-11")
        assert [r.status for r in pull(tha, "KHM")] == ["landed"]
        assert len(collect_receipts(khm, "THA")) == 2
    return published, later


def _landed(node, eid) -> list:
    return list((node.home / "landing").glob(f"*/*/*/{eid}"))


def test_expired_data_is_deleted_on_both_sides_and_the_sender_verifies_the_statement(nodes, store, exchanged):
    khm, tha = nodes["KHM"], nodes["THA"]
    old, new = exchanged
    with clock.shifted(AFTER):
        early = apply_retention(khm)  # the sender first: it deletes, the partner has not said so yet
        assert [d["exchange_id"] for d in early.deleted] == [old.exchange_id]
        assert [u["exchange_id"] for u in early.unconfirmed] == [old.exchange_id]
        assert not early.unconfirmed[0]["overdue"] and not early.check_failed
        assert not pull(tha, "KHM") and not events(tha, "alarm")  # gone after retention: no alarm
        recipient = apply_retention(tha)
        sender = apply_retention(khm)
    assert [d["exchange_id"] for d in recipient.deleted] == [old.exchange_id]
    assert [c["exchange_id"] for c in sender.confirmed] == [old.exchange_id] and not sender.unconfirmed
    assert not _landed(tha, old.exchange_id) and _landed(tha, new.exchange_id)
    bucket = store.objects["khm-to-tha"]
    assert not [k for k in bucket if old.exchange_id in k and not k.startswith(("index/", "deletions/"))]
    assert [k for k in bucket if k.startswith(new.prefix)]  # unexpired: untouched
    doc = DeletionStatement.from_json(store.objects["tha-to-khm"][deletion_key(*old.prefix.split("/"))])
    assert (doc.deleted_by, doc.role, doc.exchange_id) == ("THA", "recipient", old.exchange_id)
    assert events(tha, "deletion", exchange_id=old.exchange_id, role="recipient")
    assert events(khm, "deletion", exchange_id=old.exchange_id, role="sender")
    assert events(khm, "deletion_confirmed", exchange_id=old.exchange_id)
    status = json.loads((khm.home / "retention" / "status.json").read_text())
    assert status["confirmed"][0]["exchange_id"] == old.exchange_id


def test_a_rerun_changes_nothing_and_a_dry_run_deletes_nothing(nodes, store, exchanged):
    tha = nodes["THA"]
    old, _ = exchanged
    with clock.shifted(AFTER):
        dry = apply_retention(tha, dry_run=True)
        assert [d["exchange_id"] for d in dry.deleted] == [old.exchange_id] and _landed(tha, old.exchange_id)
        assert not events(tha, "deletion")
        apply_retention(tha)
        head = len(events(tha, "deletion"))
        again = apply_retention(tha)
    assert not again.deleted and len(events(tha, "deletion")) == head == 1


def test_before_the_retention_ends_nothing_is_touched(nodes, store, exchanged):
    khm, tha = nodes["KHM"], nodes["THA"]
    before = {b: dict(o) for b, o in store.objects.items()}
    with clock.shifted(5 * YEAR - timedelta(days=2)):
        for node in (khm, tha):
            report = apply_retention(node)
            assert not report.deleted and report.kept == 2
    assert store.objects == before


def test_the_store_down_leaves_the_deletion_overdue_and_the_next_run_finishes_it(nodes, store, exchanged):
    khm = nodes["KHM"]
    old, _ = exchanged
    with clock.shifted(AFTER):
        store.server.down = True
        report = apply_retention(khm)
        assert report.transient and report.overdue[0]["exchange_id"] == old.exchange_id
        store.server.down = False
        assert [d["exchange_id"] for d in apply_retention(khm).deleted] == [old.exchange_id]


def test_a_machine_clock_years_ahead_of_the_store_deletes_nothing_early(nodes, store, exchanged, monkeypatch):
    """A wrong local clock (the store's says the retention has not ended) deletes nothing and
    says which clock is off; once the store's clock agrees, the run deletes."""
    from datetime import UTC, datetime

    khm, tha = nodes["KHM"], nodes["THA"]
    old, _ = exchanged
    before = {bucket: dict(objects) for bucket, objects in store.objects.items()}
    today = datetime.now(UTC)
    with clock.shifted(AFTER), monkeypatch.context() as wrong:
        wrong.setattr(type(tha.store), "now", lambda self, bucket: today)  # the store's clock did not move
        for node in (khm, tha):
            report = apply_retention(node)
            assert not report.deleted and report.kept == 2 and report.check_failed  # exit 1
            assert "ahead of the store's" in report.clock_skew and "NTP" in report.clock_skew
    assert store.objects == before and _landed(tha, old.exchange_id)
    from exchange.report import report_html

    html, _ = report_html(tha.home, "THA", suites=())
    assert "found the clocks apart" in html and "ahead of the store" in html
    with clock.shifted(AFTER):
        assert [d["exchange_id"] for d in apply_retention(tha).deleted] == [old.exchange_id]


def test_a_partner_bucket_that_is_gone_does_not_stop_retention(nodes, store, exchanged):
    """The store's clock is read through any bucket between the two parties: the partner's bucket
    gone (the partnership ended), the recipient still deletes its expired landing."""
    tha = nodes["THA"]
    old, _ = exchanged
    del store.objects["khm-to-tha"]
    with clock.shifted(AFTER):
        report = apply_retention(tha)
    assert old.exchange_id in [d["exchange_id"] for d in report.deleted] and not report.clock_skew
    assert not _landed(tha, old.exchange_id)


def test_no_store_clock_at_all_deletes_nothing_and_says_so(nodes, store, exchanged, monkeypatch):
    tha = nodes["THA"]
    old, _ = exchanged
    monkeypatch.setattr(type(tha.store), "now", lambda self, bucket: None)  # a store that sends no Date
    with clock.shifted(AFTER):
        report = apply_retention(tha)
    assert not report.deleted and report.transient and _landed(tha, old.exchange_id)
    assert "clock could not be read" in report.overdue[0]["reason"]


def test_a_confirmation_missing_a_week_after_the_end_is_overdue(nodes, exchanged):
    khm = nodes["KHM"]
    old, _ = exchanged
    with clock.shifted(AFTER + timedelta(days=8)):
        report = apply_retention(khm)
    assert report.unconfirmed[0]["exchange_id"] == old.exchange_id and report.unconfirmed[0]["overdue"]
    assert report.check_failed


def test_bucket_key_only_planted_deletion_statement_is_invalid_and_never_confirms(nodes, store, exchanged):
    khm = nodes["KHM"]
    old, _ = exchanged
    key = deletion_key(*old.prefix.split("/"))
    store.objects["tha-to-khm"][key] = b'{"format": "gcmx-deletion/1"}'
    store.objects["tha-to-khm"][signature_key(key)] = b"untrusted comment: planted\n"
    [found] = collect_deletions(khm, "THA")
    assert found["status"] == "invalid"
    assert collect_deletions(khm, "THA") == []  # remembered: audited once
    assert len(events(khm, "deletion_invalid")) == 1


def test_partner_with_valid_keys_statement_about_other_hashes_is_invalid(nodes, store, exchanged):
    khm, tha = nodes["KHM"], nodes["THA"]
    old, _ = exchanged
    with clock.shifted(AFTER):
        apply_retention(tha)
    key = deletion_key(*old.prefix.split("/"))
    doc = DeletionStatement.from_json(store.objects["tha-to-khm"][key])
    forged = DeletionStatement(**{**doc.__dict__, "ciphertext_sha256": "0" * 64})
    body = forged.to_json()
    store.objects["tha-to-khm"][key] = body
    store.objects["tha-to-khm"][signature_key(key)] = tha.identity.signing_key.sign(body, forged.comment())
    [found] = collect_deletions(khm, "THA")
    assert found["status"] == "invalid" and "ciphertext_sha256" in found["reason"]


def test_the_report_shows_deletions_done_and_confirmations_overdue(nodes, exchanged):
    from exchange.report import report_html

    khm, tha = nodes["KHM"], nodes["THA"]
    old, _ = exchanged
    with clock.shifted(AFTER + timedelta(days=8)):
        apply_retention(khm)  # THA has not deleted: its confirmation is a week overdue
    html, data = report_html(khm.home, "KHM", suites=())
    assert "Retention and deletions" in html and "confirmation overdue" in html and old.exchange_id in html
    assert data["retention"]["problems"] == 1
    with clock.shifted(AFTER + timedelta(days=9)):
        apply_retention(tha)
        apply_retention(khm)
    html, data = report_html(khm.home, "KHM", suites=())
    assert data["retention"]["problems"] == 0 and "confirmation overdue" not in html
    [done] = data["retention"]["deleted"]
    assert done["exchange_id"] == old.exchange_id and done["partner_deleted"]
    html, data = report_html(tha.home, "THA", suites=())  # the landed copy is gone: the report still builds
    assert [d["exchange_id"] for d in data["retention"]["deleted"]] == [old.exchange_id]


def test_a_rejected_exchange_quarantine_copy_is_deleted_once_retention_passed_since_the_rejection(nodes, store):
    """A bucket-key attacker's forgery (or any rejected exchange) leaves a quarantine copy; it is kept
    for the contract's retention counted from the rejection (this node's clock), then deleted and audited."""
    from tests.support.protocol import forge, manifest_fields

    khm, tha = nodes["KHM"], nodes["THA"]
    forged = forge(khm, tha, manifest_fields(khm, tha, CONTRACT, "2026-10", "e" * 32))
    khm.store.put_bytes("khm-to-tha", f"{forged.prefix}/data.parquet.age", b"age-encryption.org/v1\nother")
    assert [r.status for r in pull(tha, "KHM")] == ["rejected"]
    folder = tha.home / "quarantine" / ("e" * 32)
    assert folder.is_dir()
    with clock.shifted(5 * YEAR - timedelta(days=2)):
        kept = apply_retention(tha)
        assert not kept.quarantines_deleted and kept.kept == 1 and folder.is_dir()
    with clock.shifted(AFTER):
        assert apply_retention(tha, dry_run=True).quarantines_deleted and folder.is_dir()
        done = apply_retention(tha)
        again = apply_retention(tha)
    assert [row["exchange_id"] for row in done.quarantines_deleted] == ["e" * 32] and not folder.exists()
    assert not again.quarantines_deleted
    (entry,) = events(tha, "quarantine_deleted")
    assert entry["exchange_id"] == "e" * 32 and entry["sender"] == "KHM"


def test_a_quarantine_copy_naming_no_contract_held_here_is_kept_and_reported_unknown(nodes):
    tha = nodes["THA"]
    folder = tha.home / "quarantine" / ("f" * 32)
    folder.mkdir(parents=True)
    (folder / "exchange.json").write_text(json.dumps(
        {"sender": "KHM", "bucket": "khm-to-tha", "prefix": f"no_such_dataset/2026-10/{'f' * 32}"}))
    (folder / "reason.json").write_text(json.dumps({"reason": "x", "time": "2020-01-01T00:00:00Z"}))
    report = apply_retention(tha)
    assert folder.is_dir() and "not held here" in report.unknown[0]["reason"] and report.check_failed


def test_an_age_key_older_than_the_shortest_retention_is_reported_due_for_rotation(nodes, exchanged):
    tha = nodes["THA"]
    assert apply_retention(tha).rotation_due is None
    with clock.shifted(AFTER):
        due = apply_retention(tha).rotation_due
    assert due and due["retention"].startswith("5 year") and due["key_id"]
    status = json.loads((tha.home / "retention" / "status.json").read_text())
    assert status["rotation_due"]["key_id"] == due["key_id"]
