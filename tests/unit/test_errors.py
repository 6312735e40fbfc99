"""The error root: kinds, the StoreError family, fields carried as attributes."""

from __future__ import annotations

import pytest

from exchange.errors import (
    AccessDenied,
    ContractError,
    NotFound,
    ObjectNotFound,
    ObjectTooLarge,
    ProtocolError,
    QuarantineError,
    StoreError,
    StoreRefused,
    StoreUnavailable,
    TerminalError,
    TransientError,
)
from exchange.protocol.inbound import ExchangeRejected
from exchange.protocol.outbound import ContractBreach


@pytest.mark.parametrize(("kind", "transient"), [(AccessDenied, False), (ObjectNotFound, False),
                                                 (StoreRefused, False), (StoreUnavailable, True)])
def test_store_errors_share_one_root_within_their_kind(kind, transient):
    exc = kind("read s3://b/k refused", hint="check", bucket="b", key="k", action="read")
    assert isinstance(exc, StoreError) and exc.transient is transient
    assert isinstance(exc, TransientError if transient else TerminalError)
    assert (exc.bucket, exc.key, exc.action, exc.where) == ("b", "k", "read", "s3://b/k")
    assert isinstance(ObjectNotFound("x"), NotFound)  # callers catching NotFound still see the store's


def test_fields_are_attributes_and_the_message_keeps_its_words_and_hint():
    exc = ContractError("contract c: sender is THA", hint="publish only your datasets", contract="c",
                        field="sender")
    assert (exc.contract, exc.field, exc.dataset, exc.period) == ("c", "sender", None, None)
    assert exc.fields == {"contract": "c", "field": "sender"}
    assert str(exc) == "contract c: sender is THA — publish only your datasets"


def test_kinds_inherit_their_parents_fields():
    assert ObjectTooLarge.fields_of() == ("bucket", "key", "field", "exchange_id", "limit")
    assert set(ContractBreach.fields_of()) >= {"contract", "period", "folder"}
    assert set(ExchangeRejected.fields_of()) >= {"folder", "sender", "exchange_id"}
    assert issubclass(ContractBreach, QuarantineError) and issubclass(ExchangeRejected, QuarantineError)


def test_an_unknown_field_is_a_programming_error():
    with pytest.raises(TypeError, match="ProtocolError has no field folder"):
        ProtocolError("x", folder="q")



def test_the_cli_maps_errors_to_exit_codes_in_one_place_and_documents_them():
    from click.testing import CliRunner

    from exchange.cli import CHECK_FAILED, TERMINAL, TRANSIENT, exit_code, main

    assert exit_code(StoreUnavailable("s3 down", bucket="b")) == TRANSIENT == 75
    assert exit_code(AccessDenied("refused", bucket="b")) == TERMINAL == 2
    assert exit_code(ProtocolError("bad hash")) == exit_code(True) == CHECK_FAILED == 1
    shown = CliRunner().invoke(main, ["--help"]).output
    assert "Exit codes:" in shown and all(f"\n    {code} " in shown for code in (0, 1, 2, 75))
