"""What server-side protection SeaweedFS (the version pinned in constraints.txt) honours.

The exchange's create-only writes are enforced by gcmx; these tests record what the server
itself can add against a leaked bucket key (README, "Server-side protection"): conditional
create (If-None-Match), versioning, object lock and a bucket policy denying deletes.
They share one server of their own, each changing the settings of a different bucket.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from exchange.errors import AccessDenied
from exchange.storage.s3 import Store
from tests.conftest import start_seaweed


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_seaweed(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_if_none_match_refuses_to_overwrite(server):
    khm = server.client("KHM")
    khm.put_object(Bucket="khm-to-tha", Key="k", Body=b"first")
    with pytest.raises(ClientError) as exc:
        khm.put_object(Bucket="khm-to-tha", Key="k", Body=b"second", IfNoneMatch="*")
    assert code(exc) == "PreconditionFailed"
    assert khm.get_object(Bucket="khm-to-tha", Key="k")["Body"].read() == b"first"
    # a client that leaves the header out still overwrites: create-only is not enforced by the server
    khm.put_object(Bucket="khm-to-tha", Key="k", Body=b"third")
    assert khm.get_object(Bucket="khm-to-tha", Key="k")["Body"].read() == b"third"


def test_versioning_keeps_what_a_leaked_key_overwrites_or_deletes(server):
    admin, khm = server.client(), server.client("KHM")
    admin.put_bucket_versioning(Bucket="khm-to-mys", VersioningConfiguration={"Status": "Enabled"})
    assert admin.get_bucket_versioning(Bucket="khm-to-mys")["Status"] == "Enabled"
    first = khm.put_object(Bucket="khm-to-mys", Key="m", Body=b"genuine")["VersionId"]
    khm.put_object(Bucket="khm-to-mys", Key="m", Body=b"planted")
    assert khm.delete_object(Bucket="khm-to-mys", Key="m")["DeleteMarker"] is True
    assert admin.get_object(Bucket="khm-to-mys", Key="m", VersionId=first)["Body"].read() == b"genuine"
    versions = admin.list_object_versions(Bucket="khm-to-mys", Prefix="m")
    assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1


def test_object_lock_compliance_refuses_deleting_a_version(server):
    admin = server.client()
    admin.create_bucket(Bucket="locked-khm-to-tha", ObjectLockEnabledForBucket=True)
    admin.put_object_lock_configuration(Bucket="locked-khm-to-tha", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    version = admin.put_object(Bucket="locked-khm-to-tha", Key="m", Body=b"genuine")["VersionId"]
    assert admin.head_object(Bucket="locked-khm-to-tha", Key="m")["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as exc:
        admin.delete_object(Bucket="locked-khm-to-tha", Key="m", VersionId=version)  # even the admin
    assert code(exc) == "AccessDenied"
    assert admin.get_object(Bucket="locked-khm-to-tha", Key="m", VersionId=version)["Body"].read() == b"genuine"


def test_bucket_policy_denying_delete_is_enforced(server):
    khm = Store(server.client("KHM"))
    khm.put_bytes("khm-to-kor", "m", b"genuine")
    server.client().put_bucket_policy(Bucket="khm-to-kor", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteObject"],
                       "Resource": ["arn:aws:s3:::khm-to-kor/*"]}]}))
    with pytest.raises(AccessDenied):
        khm._call("delete", "khm-to-kor", "m", lambda c: c.delete_object(Bucket="khm-to-kor", Key="m"))
    assert khm.get_bytes("khm-to-kor", "m", 100) == b"genuine"
