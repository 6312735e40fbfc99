"""Typed wire objects (manifest, receipt, checkpoint, inbound decision) and the one canonical JSON.

Each object round-trips through ``to_json``/``from_json``; the bytes of a fixed object are fixed
(the same bytes the code before the typed objects signed, so existing signatures and hashes
stand); and whatever bytes ``from_json`` is given, the outcome is the object or the typed error
naming the object and the field, never another exception."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.audit.checkpoint import AuditError, Checkpoint
from exchange.canonical import canonical_json
from exchange.contract.model import contract_hash
from exchange.errors import ProtocolError, TerminalError
from exchange.protocol.decision import Decision
from exchange.protocol.manifest import Manifest
from exchange.protocol.receipts import Receipt
from exchange.protocol.summaries import DisclosureSummary, ValidationSummary

MANIFEST = {
    "exchange_id": "0123456789abcdef" * 2, "bucket": "khm-to-tha", "sender": "KHM",
    "recipients": [{"party": "THA", "key_id": "1" * 16, "type": "mlkem768x25519"}],
    "dataset": "children_on_the_move", "period": "2026-10", "revision": 2, "sequence": 7,
    "created": "2026-11-01T09:15:02Z",
    "contract": {"id": "children_on_the_move.khm-tha", "version": "1.0.0", "hash": "2" * 64}, "rows": 540,
    "plaintext": {"sha256": "3" * 64, "size": 48213}, "ciphertext": {"sha256": "4" * 64, "size": 48501},
    "validation": {"contract_id": "children_on_the_move.khm-tha", "contract_version": "1.0.0",
                   "contract_hash": "2" * 64, "success": True, "row_count": 540, "evaluated": 45,
                   "failed": [{"expectation": "expect_column_values_to_be_in_set(sex)", "unexpected_count": None}]},
    "disclosure": {"method": "aggregate", "rules": {"method": "aggregate", "countColumn": "children",
                   "dimensions": ["care_situation", "sex"], "totalCode": "_T", "minimumCellSize": 10,
                   "protectionLevels": {"lower": 3, "upper": 5}, "note": "Lào–Thái"},
                   "cellsTotal": 540, "cellsSuppressed": 249,
                   "audit": {"method": "exact-linear-programming", "solver": "HiGHS", "ok": True,
                             "protectionLevels": {"lower": 3, "upper": 5.5}}},
    "sender_key_id": "E2C6D4A1B3F50718", "format": "gcmx-manifest/1"}
RECORDS_DISCLOSURE = {"method": "records", "rules": {"method": "records", "k": 5}, "recordsTotal": 1200,
                      "recordsGeneralised": 96, "recordsSuppressed": 4, "valuesSuppressed": 11, "kReached": 5,
                      "informationLoss": 0.083, "generalisationLevels": {"age": 1},
                      "columnsPseudonymised": ["person_id"], "privacy": {"linkage": "none", "linksBroken": 0}}
RECEIPT = {"format": "gcmx-receipt/1", "exchange_id": "0" * 32, "dataset": "ds", "period": "2026-10",
           "sender": "KHM", "receiver": "THA", "status": "rejected", "reason": "zu groß", "validation": {},
           "manifest_sha256": "a" * 64, "received": "2026-11-01T00:00:00Z"}
CHECKPOINT = {"party": "KHM", "seq": 5, "head": "ab" * 32, "time": "2026-11-01T00:00:00.000Z"}
DECISION = {"status": "landed", "time": "2026-11-01T00:00:00Z", "path": "/home/landing/x", "slot_taken": False,
            "receipt_pending": {**RECEIPT, "status": "accepted", "reason": "",
                                "validation": MANIFEST["validation"]}}

# (parse, genuine document, the typed error it raises): every wire object read from untrusted bytes
OBJECTS = {
    "manifest": (Manifest.from_json, MANIFEST, ProtocolError),
    "receipt": (Receipt.from_json, RECEIPT, ProtocolError),
    "checkpoint": (Checkpoint.from_json, CHECKPOINT, AuditError),
    "decision": (Decision.from_json, DECISION, ProtocolError),
}


def test_canonical_json_is_fixed_bytes():
    value = {"b": 1, "a": [1.5, "é–", None, True, {"z": {}, "y": []}]}
    assert canonical_json(value) == '{"a":[1.5,"é–",null,true,{"y":[],"z":{}}],"b":1}'.encode()
    assert canonical_json(value, ascii=True) == b'{"a":[1.5,"\\u00e9\\u2013",null,true,{"y":[],"z":{}}],"b":1}'
    for not_json in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            canonical_json({"x": not_json})


def test_the_signed_bytes_did_not_change():
    """Fixed objects give the bytes (and hashes) the code before the typed objects signed."""
    manifest = Manifest.from_json(canonical_json(MANIFEST))
    assert manifest.to_json() == canonical_json(MANIFEST)
    assert manifest.sha256 == "604043ecda62559e05e734a1b6f7445b1da2f7b70e1c44f1a455c1be7e4b0b8f"
    receipt = Receipt.from_json(canonical_json(RECEIPT))
    assert hashlib.sha256(receipt.to_json()).hexdigest() == \
        "945d1353a4f587ee9b35f70e34243c00166629ad81f3d3dcc1f61b5ebf7b5512"
    assert Checkpoint(**CHECKPOINT).to_json() == (
        b'{"head":"' + b"ab" * 32 + b'","party":"KHM","seq":5,"time":"2026-11-01T00:00:00.000Z"}\n')
    document = {"id": "ds.khm-tha", "version": "1.0.0", "description": {"purpose": "Kinder unterwegs – été"},
                "n": [1, 2.5, None, True]}
    suite = {"name": "ds.khm-tha-1.0.0", "expectations": [{"type": "expect_column_to_exist",
                                                           "kwargs": {"column": "ö"}}]}
    assert contract_hash(document, suite) == "e9d6af62f797be49e61d7f0a855f86ef3345296c75980540ed35cb407bc3f48b"


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_round_trip(name):
    parse, genuine, _ = OBJECTS[name]
    parsed = parse(canonical_json(genuine), "here")
    assert parse(parsed.to_json(), "here") == parsed
    assert json.loads(parsed.to_json()) == genuine
    assert parse(json.dumps(genuine, indent=2), "here") == parsed  # a local record, indented: same object


def test_nested_parts_are_typed():
    manifest = Manifest.from_json(canonical_json(MANIFEST))
    assert manifest.recipients[0].key_id == "1" * 16 and manifest.recipient_parties == ["THA"]
    assert (manifest.contract.id, manifest.plaintext.size, manifest.ciphertext.sha256) == \
        ("children_on_the_move.khm-tha", 48213, "4" * 64)
    assert isinstance(manifest.validation, ValidationSummary) and manifest.validation.failed[0].unexpected_count is None
    assert isinstance(manifest.disclosure, DisclosureSummary) and manifest.disclosure.audit.ok
    records = replace(manifest, disclosure=DisclosureSummary.of(RECORDS_DISCLOSURE))
    assert json.loads(records.to_json())["disclosure"] == RECORDS_DISCLOSURE  # absent fields stay absent
    assert Receipt.from_json(canonical_json(RECEIPT)).validation is None  # refused before validation: {}


def test_a_decision_written_before_its_first_send_has_no_slot_taken():
    early = {k: v for k, v in DECISION.items() if k != "slot_taken"}
    decision = Decision.from_json(json.dumps(early))
    assert not decision.slot_taken and decision.receipt_pending.status == "accepted"
    sent = decision.sent()
    assert sent.receipt_pending is None and json.loads(sent.to_json())["receipt_pending"] is None
    rejected = Decision("rejected", "t", None, reason="bad", quarantine="/q")
    assert Decision.from_json(rejected.to_json()) == rejected


@pytest.mark.parametrize("change, field", [
    (lambda d: d["plaintext"].update(size="48213"), "manifest.plaintext.size"),
    (lambda d: d["plaintext"].update(size=-1), "manifest.plaintext.size"),
    (lambda d: d.update(revision=True), "manifest.revision"),
    (lambda d: d["contract"].pop("hash"), "manifest.contract.hash"),
    (lambda d: d["recipients"][0].update(key_id=7), "manifest.recipients[0].key_id"),
    (lambda d: d["validation"]["failed"][0].update(unexpected_count="x"), "unexpected_count"),
    (lambda d: d["disclosure"]["audit"].update(ok="yes"), "manifest.disclosure.audit.ok"),
    (lambda d: d["disclosure"].update(rules=[]), "manifest.disclosure.rules"),
    (lambda d: d.update(recipients=[]), "manifest.recipients"),
    (lambda d: d.update(format="gcmx-manifest/2"), "manifest.format"),
])
def test_a_mistyped_field_is_named(change, field):
    document = json.loads(json.dumps(MANIFEST))
    change(document)
    with pytest.raises(ProtocolError) as err:
        Manifest.from_json(canonical_json(document), "s3://khm-to-tha/x/manifest.json")
    assert field in err.value.message and "s3://khm-to-tha/x/manifest.json" in err.value.message


@pytest.mark.parametrize("where", ["top", "validation", "disclosure"])
def test_an_unknown_field_is_named_at_any_depth(where):
    document = json.loads(json.dumps(MANIFEST))
    (document if where == "top" else document[where])["planted"] = 1
    with pytest.raises(ProtocolError, match="unknown fields 'planted'"):
        Manifest.from_json(canonical_json(document))


def test_not_json_numbers_are_refused():
    body = canonical_json(MANIFEST).replace(b'"upper":5.5', b'"upper":NaN')
    with pytest.raises(ProtocolError, match="not valid JSON"):
        Manifest.from_json(body)
    with pytest.raises(ProtocolError, match="manifest.disclosure.audit.protectionLevels"):
        Manifest.from_json(canonical_json(MANIFEST).replace(b'"upper":5.5', b'"upper":1e999'))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=12)


@st.composite
def _mutated(draw, genuine: dict) -> bytes:
    """The genuine document with one field, at any depth, dropped or replaced by any JSON value."""
    document = json.loads(json.dumps(genuine))
    node = document
    while True:
        keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if isinstance(node[key], dict | list) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        if isinstance(node, dict) and draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(JSON)
        break
    return json.dumps(document).encode()


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(OBJECTS)), st.data())
def test_any_bytes_give_the_object_or_its_typed_error(name, data):
    parse, genuine, error = OBJECTS[name]
    body = data.draw(st.one_of(st.binary(max_size=400), _mutated(genuine),
                               JSON.map(lambda v: json.dumps(v).encode())))
    try:
        parsed = parse(body, "test")
    except error as exc:
        assert isinstance(exc, TerminalError) and "test" in exc.message
        return
    assert parse(parsed.to_json(), "test") == parsed  # whatever parses can be signed again


def test_deeply_nested_json_is_a_typed_error():
    for name, (parse, _, error) in OBJECTS.items():
        with pytest.raises(error):
            parse(b"[" * 60_000 + b"]" * 60_000, name)
