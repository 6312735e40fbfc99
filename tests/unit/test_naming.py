"""Every name of the exchange (exchange/protocol/naming.py): strict parse, format, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.errors import ProtocolError
from exchange.protocol import naming
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


# --- round trips of every other name -----------------------------------------------------------

parties = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
datasets = st.from_regex(r"[a-z0-9_]{1,64}", fullmatch=True)
periods = st.one_of(
    st.integers(0, 9999).map(lambda y: f"{y:04d}"),
    st.tuples(st.integers(0, 9999), st.integers(1, 12)).map(lambda p: f"{p[0]:04d}-{p[1]:02d}"),
    st.tuples(st.integers(0, 9999), st.integers(1, 4)).map(lambda p: f"{p[0]:04d}-Q{p[1]}"),
)
exchange_ids = st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
seqs = st.integers(0, 99_999_999)


@given(parties, parties)
def test_bucket_names_round_trip(sender, recipient):
    name = naming.bucket_name(sender, recipient)
    assert name == f"{sender.lower()}-to-{recipient.lower()}"
    assert naming.parse_bucket(name) == (sender, recipient)
    assert naming.bucket_name(sender.lower(), recipient) == name


@pytest.mark.parametrize("name", ["khm-to-tha-x", "KHM-to-THA", "kh-to-tha", "khm_to_tha", "", None])
def test_odd_bucket_names_do_not_parse(name):
    assert naming.parse_bucket(name) is None


@pytest.mark.parametrize("party", ["KH", "KHMR", "K1M", "../", ""])
def test_a_bucket_is_never_formatted_from_a_non_party(party):
    with pytest.raises(ProtocolError):
        naming.bucket_name(party, "THA")


@given(datasets, periods, exchange_ids)
def test_exchange_and_receipt_keys_round_trip(dataset, period, exchange_id):
    ref = ExchangeRef("khm-to-tha", dataset, period, exchange_id)
    for name in (naming.DATA, naming.MANIFEST, naming.SIGNATURE):
        assert parse_exchange_key(ref.key(name), "khm-to-tha") == ref
    receipt = naming.receipt_key(dataset, period, exchange_id)
    assert naming.parse_receipt_key(receipt, "khm-to-tha") == ref
    assert is_reserved(receipt) and parse_exchange_key(receipt) is None
    assert naming.parse_receipt_key(naming.signature_key(receipt)) is None


@pytest.mark.parametrize("key", [f"receipts/ds/2026-10/{EID}.json.minisig", f"receipts/ds/2026-10/{EID}",
                                 f"ds/2026-10/{EID}.json", f"receipts/ds/2026-10/x/{EID}.json",
                                 f"receipts/../2026-10/{EID}.json", f"receipts/ds/2026-10/{EID.upper()}.json",
                                 f"receipts/d\ns/2026-10/{EID}.json", None])
def test_odd_receipt_keys_do_not_parse(key):
    assert naming.parse_receipt_key(key) is None


def test_a_receipt_key_with_an_odd_dataset_parses_so_the_planted_receipt_is_reported():
    """Formatting is strict; parsing takes any short safe name, to judge it against the record."""
    assert naming.parse_receipt_key(f"receipts/AGE-SECRET-KEY-1/2026-13/{EID}.json") == \
        ExchangeRef("", "AGE-SECRET-KEY-1", "2026-13", EID)
    with pytest.raises(ProtocolError):
        naming.receipt_key("AGE-SECRET-KEY-1", "2026-13", EID)


@given(seqs)
def test_index_keys_round_trip(seq):
    key = naming.index_key(seq)
    assert naming.parse_index_key(key) == seq and is_reserved(key)
    assert naming.parse_index_key(naming.signature_key(key)) is None


@given(parties, seqs)
def test_checkpoint_keys_round_trip(party, seq):
    key = naming.checkpoint_key(party, seq)
    assert key.startswith(naming.checkpoint_prefix(party)) and is_reserved(key)
    assert naming.parse_checkpoint_key(key) == (party, seq)
    assert naming.parse_checkpoint_key(naming.latest_checkpoint_key(party)) is None
    assert naming.checkpoint_file(seq) == key.rsplit("/", 1)[1]


def test_the_documented_keys():
    assert naming.index_key(3) == "index/00000003.json"
    assert naming.checkpoint_key("KHM", 7) == "audit/KHM/checkpoint-00000007.json"
    assert naming.latest_checkpoint_key("KHM") == "audit/KHM/latest.json"
    assert naming.receipt_key("ds", "2026-10", EID) == f"receipts/ds/2026-10/{EID}.json"
    assert naming.agreement_file("returnees.tha-khm", "1.0.0", "tha") == "returnees.tha-khm@1.0.0.THA.minisig"
    assert naming.blocked_name("returnees.tha-khm", "2026-10", "ab" * 32) == "returnees.tha-khm-2026-10-abababababab"


@given(datasets.filter(lambda d: d[0].isalpha()), parties, parties,
       st.from_regex(r"[0-9]+\.[0-9]+\.[0-9]+", fullmatch=True))
def test_contract_ids_and_agreement_files_round_trip(dataset, sender, recipient, version):
    contract = naming.contract_id(dataset, sender, recipient)
    assert naming.parse_contract_id(contract) == (dataset, sender, recipient)
    signed = naming.agreement_file(contract, version, recipient)
    assert naming.parse_agreement_file(signed) == (contract, version, recipient)


@pytest.mark.parametrize("name", ["a.khm-tha@1.KHM", "a.khm-tha@1.khm.minisig", "a.khm-tha.KHM.minisig",
                                  "a.khm-tha@1.KHMR.minisig", "x/a.khm-tha@1.KHM.minisig", ""])
def test_odd_agreement_files_do_not_parse(name):
    assert naming.parse_agreement_file(name) is None


@given(datasets.filter(lambda d: d[0].isalpha()), parties, parties, periods,
       st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
def test_blocked_input_names_round_trip(dataset, sender, recipient, period, sha256):
    contract = naming.contract_id(dataset, sender, recipient)
    blocked = naming.parse_blocked_name(naming.blocked_name(contract, period, sha256))
    assert blocked == naming.Blocked(contract, dataset, sender, recipient, period, sha256[:12])


@given(exchange_ids, st.from_regex(r"[0-9a-f]{64}", fullmatch=True))
def test_a_rejected_exchange_is_never_taken_for_a_blocked_input(exchange_id, sha256):
    assert naming.parse_blocked_name(naming.rejected_name(exchange_id)) is None
    assert naming.parse_blocked_name(naming.rejected_name(exchange_id, sha256)) is None
    assert naming.rejected_name(exchange_id, sha256) == f"{exchange_id}.{sha256[:12]}"


def test_home_file_names():
    assert naming.audit_log_file("khm") == "KHM.audit.jsonl"
    assert naming.report_file("KHM") == "KHM-report.html"


def test_list_exchanges_needs_only_a_listing():
    class Listing:
        def list_keys(self, bucket, prefix=""):
            assert (bucket, prefix) == ("khm-to-tha", "ds/")
            return iter([f"ds/2026-10/{EID}/manifest.json", f"ds/2026-10/{EID}/manifest.json.minisig", "ds/x"])

    assert naming.list_exchanges(Listing(), "khm-to-tha", "ds/") == [ExchangeRef("khm-to-tha", "ds", "2026-10", EID)]
    assert naming.scan_exchanges(Listing(), "khm-to-tha", "ds/").ignored == ["ds/x"]
