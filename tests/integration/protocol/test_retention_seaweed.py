"""Retention and crypto-shredding end to end on the real SeaweedFS, the real `age` CLI and the `gcmx`
commands, with the exchange's clock moved (exchange.clock.shifted):

KHM publishes exchange A now and B two years later; THA lands both, then rotates its age key.
Five years after A: `gcmx retention apply` deletes A on both sides (THA's landed copy, KHM's bucket
objects), each signs a deletion statement and KHM verifies THA's; B is untouched, and
`gcmx keys destroy` refuses THA's retired key, which B still needs. Seven years on, B goes too,
the key is destroyed, and a stray copy of A's ciphertext no longer opens with `age`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from click.testing import CliRunner

from exchange import clock
from exchange.cli import main
from exchange.crypto.keys import key_file_paths, retired_identity_path
from exchange.protocol.naming import DATA
from exchange.protocol.outbound import publish
from exchange.protocol.receipts import collect_receipts
from exchange.storage.s3 import Store
from tests.support.protocol import dataset, events, make_nodes
from tests.support.rotation import retire_age_identity

AGE = shutil.which("age") or "/usr/bin/age"
CONTRACT = "children_on_the_move.khm-tha"
YEAR = timedelta(days=365)
DAYS = timedelta(days=3)  # past the end (leap days included)


@pytest.fixture(scope="module")
def nodes(seaweed, tmp_path_factory):
    """KHM and THA with classic age keys (Debian's `age` reads them) on the module's SeaweedFS."""
    return make_nodes(seaweed, tmp_path_factory.mktemp("parties"), classic=True)


def _gcmx(seaweed, node, *args: str) -> tuple[int, dict]:
    cred = seaweed.credentials[node.party]
    env = {"GCMX_PARTY": node.party, "GCMX_HOME": str(node.home), "GCMX_S3_ENDPOINT": seaweed.endpoint,
           "GCMX_S3_ACCESS_KEY_ID": cred.access_key_id, "GCMX_S3_SECRET_ACCESS_KEY": cred.secret_access_key}
    result = CliRunner().invoke(main, [*args, "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


@contextmanager
def _later(monkeypatch, offset: timedelta) -> Iterator[None]:
    """The exchange's clock moved by ``offset``; SeaweedFS's cannot move, so the times it
    answers with (its clock, when an object appeared) are read as moved too."""
    with clock.shifted(offset), monkeypatch.context() as later:
        now, modified = Store.now, Store.last_modified
        later.setattr(Store, "now", lambda self, bucket: now(self, bucket) + offset)
        later.setattr(Store, "last_modified", lambda self, bucket, key: modified(self, bucket, key) + offset)
        yield


def _keys(seaweed, bucket: str) -> list[str]:
    listed = seaweed.client("KHM" if bucket.startswith("khm") else "THA").list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def _age_opens(identity, cipher) -> bool:
    done = subprocess.run([AGE, "-d", "-i", str(identity), str(cipher)], capture_output=True, check=False)
    return done.returncode == 0 and done.stdout.startswith(b"PAR1")


def test_retention_deletes_on_both_sides_and_the_retired_key_is_shredded(seaweed, nodes, tmp_path, monkeypatch):
    khm, tha = nodes["KHM"], nodes["THA"]
    a = publish(khm, dataset(CONTRACT, tmp_path, period="2026-09"), CONTRACT, "2026-09")
    assert _gcmx(seaweed, tha, "pull", "--partner", "KHM")[0] == 0
    with _later(monkeypatch, 2 * YEAR):  # B appears two years on
        b = publish(khm, dataset(CONTRACT, tmp_path, period="2026-10"), CONTRACT, "2026-10")
        _gcmx(seaweed, tha, "pull", "--partner", "KHM")
    assert {r.exchange_id for r in collect_receipts(khm, "THA")} == {a.exchange_id, b.exchange_id}
    stray = tmp_path / "stray-copy-of-a.age"  # a backup, a replica, a leaked bucket
    stray.write_bytes(seaweed.client("THA").get_object(Bucket="khm-to-tha",
                                                      Key=f"{a.prefix}/{DATA}")["Body"].read())
    old_key = retire_age_identity(tha, post_quantum=False)
    retired = retired_identity_path("THA", tha.settings.identity_dir, old_key)
    current = key_file_paths("THA", tha.settings.identity_dir).age_identity
    assert _age_opens(retired, stray) and not _age_opens(current, stray)

    with _later(monkeypatch, 5 * YEAR - DAYS):  # not yet: nothing is touched
        before = (_keys(seaweed, "khm-to-tha"), sorted(p.name for p in (tha.home / "landing").rglob("*")))
        for node in (khm, tha):
            code, report = _gcmx(seaweed, node, "retention", "apply")
            assert code == 0 and report["deleted"] == [] and report["kept"] == 2
        assert before == (_keys(seaweed, "khm-to-tha"), sorted(p.name for p in (tha.home / "landing").rglob("*")))

    with _later(monkeypatch, 5 * YEAR + DAYS):
        code, dry = _gcmx(seaweed, tha, "retention", "apply", "--dry-run")
        assert code == 0 and [d["exchange_id"] for d in dry["deleted"]] == [a.exchange_id]
        code, recipient = _gcmx(seaweed, tha, "retention", "apply")
        assert code == 0 and [d["exchange_id"] for d in recipient["deleted"]] == [a.exchange_id]
        code, sender = _gcmx(seaweed, khm, "retention", "apply")
        assert code == 0 and [d["exchange_id"] for d in sender["deleted"]] == [a.exchange_id]
        assert [c["exchange_id"] for c in sender["confirmed"]] == [a.exchange_id] and not sender["unconfirmed"]
        code, refused = _gcmx(seaweed, tha, "keys", "destroy", old_key)  # B, within retention, needs it
        assert code == 2 and "still needed by 1 exchange" in refused["error"]["message"]
        assert b.exchange_id in refused["error"]["message"] and retired.is_file()
    bucket = _keys(seaweed, "khm-to-tha")
    assert not [k for k in bucket if k.startswith(a.prefix)] and [k for k in bucket if k.startswith(b.prefix)]
    assert f"deletions/{a.prefix}.json" in bucket  # KHM's own statement
    assert f"deletions/{a.prefix}.json" in _keys(seaweed, "tha-to-khm")  # THA's, verified by KHM
    assert not list((tha.home / "landing").glob(f"*/*/*/{a.exchange_id}"))
    assert list((tha.home / "landing").glob(f"*/*/*/{b.exchange_id}"))
    assert events(khm, "deletion_confirmed", exchange_id=a.exchange_id)

    with _later(monkeypatch, 7 * YEAR + DAYS):
        for node in (tha, khm):
            assert _gcmx(seaweed, node, "retention", "apply")[0] == 0
        code, destroyed = _gcmx(seaweed, tha, "keys", "destroy", old_key)
        assert code == 0 and destroyed["key_id"] == old_key
    assert not retired.exists() and events(tha, "key_destroyed", key_id=old_key)
    assert not _age_opens(current, stray)
    opened = subprocess.run([AGE, "-d", "-i", str(current), str(stray)], capture_output=True, check=False)
    assert opened.returncode != 0 and b"PAR1" not in opened.stdout
    # what stays names no data: the freshness index, the statements, the checkpoints and the claims
    # that keep revisions and sequences increasing
    assert not [k for k in _keys(seaweed, "khm-to-tha")
                if not k.startswith(("index/", "deletions/", "audit/", "claims/"))]
