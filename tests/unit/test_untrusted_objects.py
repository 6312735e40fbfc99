"""Property test: whatever sits in a partner's bucket — random bytes, mutated documents, or
garbage validly signed by the partner — the receipt, checkpoint and index readers end in a
typed outcome (an invalid receipt, an alarm, a GcmxError), never an untyped exception, and
read no more of an unauthenticated object than its limit. Runs the real code paths of
``collect_receipts``, ``witness_partner`` and ``check_index`` on an in-memory store."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.audit.witness import witness_partner
from exchange.devkit.bootstrap import provision
from exchange.errors import GcmxError
from exchange.protocol.freshness_check import check_index
from exchange.protocol.limits import CHECKPOINT_MAX, RECEIPT_MAX
from exchange.protocol.manifest import trusted_comment
from exchange.protocol.naming import index_key, receipt_key
from exchange.protocol.node import Node
from exchange.protocol.receipts import collect_receipts
from exchange.settings import load_settings
from tests.support.memory_store import MemoryStore

DATASET, PERIOD = "children_on_the_move", "2026-10"
GOOD_RECEIPT = {"format": "gcmx-receipt/1", "exchange_id": "0" * 32, "dataset": DATASET, "period": PERIOD,
                "sender": "KHM", "receiver": "THA", "status": "accepted", "reason": "", "validation": {},
                "manifest_sha256": "a" * 64, "received": "2026-11-01T00:00:00Z"}
GOOD_CHECKPOINT = {"party": "THA", "seq": 3, "head": "b" * 64, "time": "2026-11-01T00:00:00Z"}
GOOD_ENTRY = {"seq": 1, "prev": "0" * 64, "exchange_id": "0" * 32, "dataset": DATASET, "period": PERIOD,
              "manifest_sha256": "a" * 64, "ciphertext_sha256": "c" * 64, "created": "2026-11-01T00:00:00Z"}

COMMENTS = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
                   max_size=60)  # minisign's rule
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)


@st.composite
def _edited(draw, good: dict) -> bytes:
    doc = dict(good)
    field = draw(st.sampled_from(sorted(doc)))
    if draw(st.booleans()):
        del doc[field]
    else:
        doc[field] = draw(json_values)
    return json.dumps(doc).encode()


def mutated(good: dict) -> st.SearchStrategy[bytes]:
    """The genuine shape with a field dropped, retyped or replaced, or any JSON, or any bytes."""
    return st.one_of(_edited(good), json_values.map(lambda v: json.dumps(v).encode()),
                     st.binary(max_size=300))


@pytest.fixture(scope="module")
def parties(tmp_path_factory):
    homes = provision(tmp_path_factory.mktemp("homes"), ("KHM", "THA"), [("KHM", "THA")])
    store = MemoryStore(["khm-to-tha", "tha-to-khm"])
    return {p: Node(load_settings(party=p, home=homes[p]), store) for p in ("KHM", "THA")}


def _plant(store, key: str, body: bytes, signature: bytes) -> None:
    store.put_bytes("tha-to-khm", key, body)
    store.put_bytes("tha-to-khm", key + ".minisig", signature)


def _signature(tha: Node, body: bytes, how: str, comment: str) -> bytes:
    """No real signature, or THA's valid signature over the garbage (a partner with valid keys)."""
    return tha.identity.signing_key.sign(body, comment) if how == "signed" else how.encode()


def _comment_of(kind: str, body: bytes, drawn: str) -> str:
    """Half the time the trusted comment the genuine object would carry (so the checks after
    the signature run on the garbage), else the drawn text."""
    if not drawn:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        doc = doc if isinstance(doc, dict) else {}
        if kind == "receipt":
            return trusted_comment("receipt", str(doc.get("exchange_id"))[:40], DATASET, PERIOD, "KHM", "THA")
        if kind == "checkpoint":
            seq, head = str(doc.get("seq"))[:30], str(doc.get("head"))[:70]
            return f"gcmx audit checkpoint party=THA seq={seq} head={head}"
    return drawn


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exchange=st.text("0123456789abcdef", min_size=32, max_size=32), body=mutated(GOOD_RECEIPT),
       how=st.sampled_from(["signed", "", "untrusted comment: x\nRWQ"]), comment=COMMENTS)
def test_receipts_from_the_bucket_end_in_a_typed_outcome(parties, exchange, body, how, comment):
    khm, tha = parties["KHM"], parties["THA"]
    record = khm.folder("outbound") / exchange
    record.mkdir(exist_ok=True)
    (record / "manifest.json").write_text(json.dumps({"exchange_id": exchange, "dataset": DATASET,
                                                      "period": PERIOD, "sender": "KHM"}))
    _plant(khm.store, receipt_key(DATASET, PERIOD, exchange), body,
           _signature(tha, body, how, _comment_of("receipt", body, comment)))
    try:
        outcome = {r.exchange_id: r.status for r in collect_receipts(khm, "THA")}
    except GcmxError:
        return
    assert outcome.get(exchange, "invalid") == "invalid"  # garbage is never accepted or rejected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.integers(1, 10**8 - 1), body=mutated(GOOD_CHECKPOINT),
       how=st.sampled_from(["signed", "", "untrusted comment: x\nRWQ"]), comment=COMMENTS)
def test_checkpoints_from_the_bucket_end_in_a_typed_outcome(parties, seq, body, how, comment):
    khm, tha = parties["KHM"], parties["THA"]
    _plant(khm.store, f"audit/THA/checkpoint-{seq:08d}.json", body,
           _signature(tha, body, how, _comment_of("checkpoint", body, comment)))
    try:
        witness_partner(khm, "THA")
    except GcmxError:
        pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=st.integers(1, 50), body=mutated(GOOD_ENTRY),
       how=st.sampled_from(["signed", "", "untrusted comment: x\nRWQ"]), comment=COMMENTS)
def test_index_entries_from_the_bucket_end_in_a_typed_outcome(parties, seq, body, how, comment):
    khm, tha = parties["KHM"], parties["THA"]
    _plant(khm.store, index_key(seq), body, _signature(tha, body, how, comment))
    try:
        check_index(khm, "THA")
    except GcmxError:
        pass


@pytest.mark.parametrize(("key", "limit"), [(receipt_key(DATASET, PERIOD, "f" * 32), RECEIPT_MAX),
                                             ("audit/THA/checkpoint-99999999.json", CHECKPOINT_MAX),
                                             (index_key(99), CHECKPOINT_MAX)])
def test_planted_giants_are_not_read_past_their_limit(parties, key, limit):
    khm = parties["KHM"]
    record = khm.folder("outbound") / ("f" * 32)
    record.mkdir(exist_ok=True)
    (record / "manifest.json").write_text(json.dumps({"exchange_id": "f" * 32, "dataset": DATASET,
                                                      "period": PERIOD, "sender": "KHM"}))
    _plant(khm.store, key, b"{" + b" " * (32 << 20) + b"}", b"x" * (8 << 20))
    tracemalloc.start()
    try:
        for run in (lambda: collect_receipts(khm, "THA"), lambda: witness_partner(khm, "THA"),
                    lambda: check_index(khm, "THA")):
            try:
                run()
            except GcmxError:
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        khm.store.objects["tha-to-khm"].pop(key)
        khm.store.objects["tha-to-khm"].pop(key + ".minisig")
    assert peak < 4 * limit + (2 << 20)
