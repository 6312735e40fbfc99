"""Property tests: random and mutated manifests and Parquet files meet only typed errors."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exchange.errors import ProtocolError
from exchange.protocol.manifest import Manifest
from exchange.protocol.parquet_guard import check_parquet

GENUINE = {
    "exchange_id": "0" * 32, "bucket": "khm-to-tha", "sender": "KHM",
    "recipients": [{"party": "THA", "key_id": "1" * 16, "type": "x25519"}],
    "dataset": "ds", "period": "2026-10", "revision": 1, "sequence": 1, "created": "2026-11-01T00:00:00Z",
    "contract": {"id": "ds.khm-tha", "version": "1.0.0", "hash": "2" * 64}, "rows": 3,
    "plaintext": {"sha256": "3" * 64, "size": 10}, "ciphertext": {"sha256": "4" * 64, "size": 20},
    "validation": {"contract_id": "ds.khm-tha", "contract_version": "1.0.0", "contract_hash": "2" * 64,
                   "success": True, "row_count": 3, "evaluated": 4, "failed": []},
    "disclosure": {"method": "none", "rules": {"method": "none"}}, "sender_key_id": "5" * 16,
    "format": "gcmx-manifest/1",
}
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(GENUINE)), JSON)
def test_a_manifest_with_any_field_value_parses_or_raises_protocol_error(field, value):
    body = json.dumps({**GENUINE, field: value}).encode()
    try:
        manifest = Manifest.from_json(body, "test")
    except ProtocolError:
        return
    assert isinstance(manifest.rows, int) and isinstance(manifest.plaintext.sha256, str)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_as_manifest_raise_protocol_error_only(data):
    try:
        Manifest.from_json(data, "test")
    except ProtocolError:
        pass


def _parquet() -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.table({"a": ["x", "y", "z"], "b": [1, 2, 3]}), out)
    return out.getvalue()


PARQUET = _parquet()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(PARQUET) - 1), st.binary(min_size=1, max_size=8))
@example(208, b"\x7f")  # aborts pyarrow itself ("definition level histogram size mismatch")
def test_mutated_parquet_passes_or_raises_protocol_error(tmp_path_factory, offset, patch):
    path = tmp_path_factory.mktemp("pq") / "data.parquet"
    path.write_bytes(PARQUET[:offset] + patch + PARQUET[offset + len(patch):])
    try:
        check_parquet(path, 3, "test")
    except ProtocolError:
        pass


def test_genuine_parquet_passes_and_wrong_row_count_is_refused(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(PARQUET)
    check_parquet(path, 3, "test")
    try:
        check_parquet(path, 4, "test")
    except ProtocolError as exc:
        assert "holds 3 rows, the signed manifest says 4" in str(exc)
    else:
        raise AssertionError("row count not checked")


def test_a_file_that_crashes_the_parquet_library_is_refused_and_the_caller_lives(tmp_path):
    """pyarrow terminates the process on this footer (an uncaught C++ exception); the check
    runs in its own process, so the caller gets a ProtocolError and carries on."""
    path = tmp_path / "data.parquet"
    path.write_bytes(PARQUET[:208] + b"\x7f" + PARQUET[209:])
    for _ in range(2):  # and the checker is there again for the next exchange
        try:
            check_parquet(path, 3, "test")
        except ProtocolError as exc:
            assert "crashed the Parquet reader" in str(exc)
        else:
            raise AssertionError("a file that crashes the reader passed")
    good = tmp_path / "good.parquet"
    good.write_bytes(PARQUET)
    check_parquet(good, 3, "test")


def test_a_checking_process_that_dies_of_something_else_does_not_refuse_a_good_file(tmp_path, monkeypatch):
    """The checks share their process with GX's set-up: killed once while checking (out of
    memory, an operator), a good file is checked again in a new process and passes."""
    import os

    from exchange.contract.validation_worker import worker

    good = tmp_path / "good.parquet"
    good.write_bytes(PARQUET)
    submit, calls = worker.submit, []

    def dies_once(function, *args):
        calls.append(function)
        return submit(os._exit, 1) if len(calls) == 1 else submit(function, *args)

    monkeypatch.setattr(worker, "submit", dies_once)
    check_parquet(good, 3, "test")
    assert len(calls) == 2


def test_partner_with_valid_keys_dictionary_bomb_of_modest_rows_is_refused(tmp_path):
    """Thousands of genuine-looking rows sharing one 60 KB text value (dictionary-encoded):
    a few KiB on disk and a modest declared size, gigabytes once a reader materialises it."""
    import os

    rows = 5000
    value = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * 60_000]))
    genuine = pa.array([os.urandom(50).hex() for _ in range(rows)])  # incompressible: a real-looking file size
    path = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"person_id": genuine, "REF_AREA": value}), path, compression="zstd")
    assert path.stat().st_size < 1024 * 1024  # about 300 MB once materialised
    with pytest.raises(ProtocolError, match="decodes to more than"):
        check_parquet(path, rows, "test")
