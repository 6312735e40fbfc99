"""The manifest: parsed strictly, verified with the sender's key, bound to its prefix.

Twins of the manifest checks in tests/integration/protocol/test_protocol_faults.py, without a
server: ``check_manifest`` on bytes, as a recipient meets them after a bounded read.
"""

from __future__ import annotations

import json

import pytest

from exchange.errors import ProtocolError, SignatureError
from exchange.protocol.inbound_checks import check_manifest
from exchange.protocol.manifest import FORMAT, Manifest
from exchange.protocol.naming import parse_exchange_prefix
from tests.support.protocol import manifest_fields, signed_objects

CONTRACT = "children_on_the_move.khm-tha"
PERIOD = "2026-10"
EID = "a" * 32


@pytest.fixture
def signed(nodes):
    """KHM's signed manifest for THA: (manifest, body, signature)."""
    khm, tha = nodes["KHM"], nodes["THA"]
    manifest, objects = signed_objects(khm, manifest_fields(khm, tha, CONTRACT, PERIOD, EID), b"PAR1",
                                       khm.public_keys("THA").age_recipient)
    return manifest, objects[f"{manifest.prefix}/manifest.json"], objects[f"{manifest.prefix}/manifest.json.minisig"]


def ref(prefix: str, bucket: str = "khm-to-tha"):
    return parse_exchange_prefix(prefix, bucket)


def test_bytes_round_trip_and_canonical_form(signed):
    manifest, body, _ = signed
    assert Manifest.from_signed_bytes(body, "here") == manifest
    assert manifest.to_bytes() == body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                                                     ensure_ascii=False).encode()


@pytest.mark.parametrize(("body", "words"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", f"not a {FORMAT} manifest"),
    (json.dumps({"format": FORMAT}).encode(), "fields missing"),
])
def test_malformed_manifest_is_a_protocol_error_naming_where(body, words):
    with pytest.raises(ProtocolError, match=words) as err:
        Manifest.from_bytes(body, "s3://khm-to-tha/x/manifest.json")
    assert err.value.message.startswith("s3://khm-to-tha/x/manifest.json") and err.value.hint


@pytest.mark.parametrize(("field", "value"), [("rows", True), ("revision", -1), ("sequence", "1"),
                                              ("contract", {"id": "x", "version": 1, "hash": "h"}),
                                              ("recipients", [])])
def test_signed_manifest_with_a_field_of_the_wrong_type_is_refused(signed, field, value):
    doc = {**json.loads(signed[1]), field: value}
    with pytest.raises(ProtocolError, match="wrong type"):
        Manifest.from_signed_bytes(json.dumps(doc).encode(), "here")


def test_genuine_manifest_verifies_for_its_own_prefix(nodes, signed):
    manifest, body, signature = signed
    assert check_manifest(nodes["THA"], ref(manifest.prefix), "KHM", body, signature) == manifest


def test_manifest_under_another_prefix_is_refused_with_the_field(nodes, signed):
    manifest, body, signature = signed
    with pytest.raises(ProtocolError) as err:
        check_manifest(nodes["THA"], ref(f"children_on_the_move/2026-09/{EID}"), "KHM", body, signature)
    assert err.value.field == "period" and err.value.bucket == "khm-to-tha"
    assert err.value.key == f"children_on_the_move/2026-09/{EID}/manifest.json"


def test_manifest_in_another_bucket_is_refused(nodes, signed):
    manifest, body, signature = signed
    with pytest.raises(ProtocolError) as err:
        check_manifest(nodes["THA"], ref(manifest.prefix, "mys-to-tha"), "KHM", body, signature)
    assert err.value.field == "bucket"


@pytest.mark.parametrize("tamper", ["body", "signature", "signer"])
def test_altered_manifest_or_signature_or_another_signer_fails_verification(nodes, signed, tamper):
    manifest, body, signature = signed
    if tamper == "body":
        body = body.replace(b'"rows":1', b'"rows":2')
    elif tamper == "signature":
        signature = signature[:-20] + bytes(b ^ 1 for b in signature[-20:])
    else:
        signature = nodes["THA"].identity.signing_key.sign(body, manifest.comment())
    with pytest.raises((SignatureError, ProtocolError)):
        check_manifest(nodes["THA"], ref(manifest.prefix), "KHM", body, signature)


def test_signature_whose_trusted_comment_names_another_exchange_is_refused(nodes, signed):
    manifest, body, _ = signed
    signature = nodes["KHM"].identity.signing_key.sign(body, manifest.comment().replace(EID, "b" * 32))
    with pytest.raises(ProtocolError, match="signature names another exchange"):
        check_manifest(nodes["THA"], ref(manifest.prefix), "KHM", body, signature)
