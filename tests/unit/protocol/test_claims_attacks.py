"""Red team (rt16) on publish claims: what a leaked bucket key, a partner or a careless operator can do
to ``claims/`` (exchange.protocol.claims), on the in-memory store."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from exchange import clock
from exchange.audit.log import AuditLog
from exchange.protocol import claims, outbound
from exchange.protocol.claims import ExchangeBusy
from exchange.protocol.inbound import pull
from exchange.protocol.manifest import exchange_id
from exchange.protocol.naming import revision_claim_key, sequence_claim_key
from exchange.protocol.node import Node
from exchange.protocol.outbound import publish
from exchange.settings import load_settings
from exchange.storage.streams import file_sha256
from tests.support.protocol import events
from tests.unit.protocol.conftest import CONTRACT, PERIOD

BUCKET = "khm-to-tha"
DATASET = "children_on_the_move"


def test_bucket_key_only_deeply_nested_claims_are_skipped_with_an_alarm_not_a_traceback(nodes, store, source):
    nested = b"[" * 2000 + b"]" * 2000  # within CLAIM_MAX; deeper than the JSON decoder's recursion limit
    store.objects[BUCKET][revision_claim_key(DATASET, PERIOD, 1)] = nested
    store.objects[BUCKET][sequence_claim_key(1)] = nested
    done = publish(nodes["KHM"], source(), CONTRACT, PERIOD)
    assert (done.revision, done.sequence, done.created_now) == (2, 2, True)
    later = publish(nodes["KHM"], source(seed=2), CONTRACT, PERIOD)
    assert (later.revision, later.sequence) == (3, 3)
    got = pull(nodes["THA"], "KHM")  # the gaps left by the skipped claims are no rollback to the recipient
    assert sorted((r.exchange_id, r.status) for r in got) == sorted(
        [(done.exchange_id, "landed"), (later.exchange_id, "landed")]), got
    assert not events(nodes["THA"], "alarm")


def _claim_elsewhere(node, monkeypatch, bucket: str, key: str, eid: str) -> bytes:
    """A genuine claim KHM made just now on another machine, in ``bucket``: the bytes it stored."""
    with monkeypatch.context() as patched:
        patched.setattr(claims, "_holder", lambda node: "elsewhere:/srv/gcmx")
        assert claims._create(node, bucket, key, eid, "t")
    return node.store.get_bytes(bucket, key, claims.CLAIM_MAX)


def test_bucket_key_only_a_claim_copied_from_another_direction_is_not_obeyed(nodes, store, source, monkeypatch):
    khm = nodes["KHM"]
    key = revision_claim_key(DATASET, PERIOD, 1)
    to_mys = exchange_id("KHM", "MYS", DATASET, PERIOD, 1, "1" * 64)
    store.objects[BUCKET][key] = _claim_elsewhere(khm, monkeypatch, "khm-to-mys", key, to_mys)  # copied over
    done = publish(khm, source(), CONTRACT, PERIOD)  # not ExchangeBusy for the lease's two hours
    assert (done.revision, done.created_now) == (2, True)
    assert any(e.get("event") == "alarm" and key in e.get("where", "")
               for e in AuditLog.for_home(khm.home, "KHM").entries())


def test_operator_clock_skew_a_live_run_on_a_machine_whose_clock_is_behind_is_not_taken_over(
        nodes, store, source, monkeypatch):
    """Machine two's clock is three hours behind: the claim it just made says it is past the lease,
    the store (which wrote it just now) says it is fresh; taking it over would publish one exchange
    twice, with two sequences and the two runs' ciphertexts at one key."""
    khm = nodes["KHM"]
    key = revision_claim_key(DATASET, PERIOD, 1)
    eid = exchange_id("KHM", "THA", DATASET, PERIOD, 1, file_sha256(source()))
    with clock.shifted(-timedelta(hours=3)), monkeypatch.context() as patched:  # machine two
        patched.setattr(claims, "_holder", lambda node: "elsewhere:/srv/gcmx")
        assert claims._create(khm, BUCKET, key, eid, "t")
    store.server.modified[BUCKET, key] = clock.now()  # the store wrote it just now, on its own clock
    with pytest.raises(ExchangeBusy):
        publish(khm, source(), CONTRACT, PERIOD)



def test_bucket_key_only_putting_a_dead_runs_claim_again_does_not_renew_its_lease(nodes, store, source,
                                                                                     monkeypatch):
    khm = nodes["KHM"]
    key = revision_claim_key(DATASET, PERIOD, 1)
    eid = exchange_id("KHM", "THA", DATASET, PERIOD, 1, file_sha256(source()))
    with clock.shifted(-timedelta(hours=5)), monkeypatch.context() as patched:  # a run that died 5 h ago
        patched.setattr(claims, "_holder", lambda node: "elsewhere:/srv/gcmx")
        assert claims._create(khm, BUCKET, key, eid, "t")
    store.server.modified[BUCKET, key] = clock.now()  # its bytes put there again just now
    done = publish(khm, source(), CONTRACT, PERIOD)
    assert (done.exchange_id, done.revision, done.created_now) == (eid, 1, True)


@pytest.mark.xfail(strict=True, reason="not fixed (rt16): the freshness index is numbered per home "
                   "(freshness/to-THA.jsonl), so a second home's first entry takes the first home's slot")
def test_operator_two_homes_publishing_one_direction_keep_one_freshness_index(nodes, store, source, tmp_path):
    """Claims keep two homes of one party apart; the freshness index does not: each home numbers its
    own entries from 1, the second one meets an ``index-slot-taken`` alarm and its exchanges never
    reach the index the recipient checks."""
    khm = nodes["KHM"]
    other = Node(load_settings(party="KHM", home=Path(shutil.copytree(khm.home, tmp_path / "two"))),
                 store.as_party("KHM"))
    publish(khm, source(period="2026-09"), CONTRACT, "2026-09")
    publish(other, source(period="2026-08"), CONTRACT, "2026-08")
    assert not events(other, "alarm", kind="index-slot-taken")


def test_operator_a_retry_on_another_worker_sharing_the_home_takes_a_killed_run_over_at_once(
        nodes, source, monkeypatch):
    """The README's deployment: workers on several hosts share one GCMX_HOME (its flock works across
    hosts). A run killed on host a is over once host b holds the home's lock, so b's retry takes it
    over at once instead of being busy for the two-hour lease (Airflow's retries end within minutes)."""
    khm = nodes["KHM"]

    class Killed(BaseException):
        """The worker was killed during the upload."""

    def dies(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as host_a:
        host_a.setattr(claims.socket, "gethostname", lambda: "worker-a")
        host_a.setattr(outbound, "write_encrypted", dies)
        with pytest.raises(Killed):
            publish(khm, source(), CONTRACT, PERIOD)
    monkeypatch.setattr(claims.socket, "gethostname", lambda: "worker-b")
    done = publish(khm, source(), CONTRACT, PERIOD)
    assert (done.revision, done.created_now) == (1, True)


def test_operator_a_copy_of_the_home_on_the_same_host_and_path_is_not_this_home(nodes, store, source, tmp_path,
                                                                               monkeypatch):
    """A home copied to a second machine (same host name and path, a cloned VM) is another home: a run
    there is not this home's, so its fresh claim is busy, never taken over as a dead run of this home."""
    khm = nodes["KHM"]
    publish(khm, source(), CONTRACT, PERIOD)
    copy = Node(load_settings(party="KHM", home=Path(shutil.copytree(khm.home, tmp_path / "copy"))),
                store.as_party("KHM"))

    def stops(*args, **kwargs):  # the copy's run is still uploading: it never gets further here
        raise ExchangeBusy("held", hint="test")

    with monkeypatch.context() as held:
        held.setattr(claims, "_holder", lambda node: "worker:/srv/gcmx")
        held.setattr(outbound, "write_encrypted", stops)
        with pytest.raises(ExchangeBusy):
            publish(copy, source(seed=2), CONTRACT, PERIOD)
        with pytest.raises(ExchangeBusy) as busy:
            publish(khm, source(seed=2), CONTRACT, PERIOD)
    assert "another run is publishing this exchange" in busy.value.message


def test_bucket_key_only_a_claim_nested_just_below_the_parsers_limit_is_skipped_with_an_alarm(nodes, store,
                                                                                              source):
    deep = "[" * 990 + "]" * 990  # the parser takes it; whatever walks it next must not recurse
    fields = ",".join(f'"{name}":"x"' for name in ("bucket", "key", "exchange_id", "token", "claimed", "holder"))
    body = f'{{"claim":{{"format":{deep},{fields}}},"signature":""}}'.encode()
    store.objects[BUCKET][revision_claim_key(DATASET, PERIOD, 1)] = body
    done = publish(nodes["KHM"], source(), CONTRACT, PERIOD)
    assert (done.revision, done.created_now) == (2, True)
