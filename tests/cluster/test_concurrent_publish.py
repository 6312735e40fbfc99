"""Concurrent publishes on a real SeaweedFS: two runs of one exchange, a retry overlapping a slow
first try, a run that died, sequences under concurrency (two datasets to one partner at once on two
Celery workers: tests/cluster/test_celery_workers.py).

KHM runs on two "machines": two copies of its home (same keys, separate records and locks), so
only the bucket's conditional puts can keep them apart. Slowness is injected at one exact point:
the run in the thread named ``slow`` stops inside ``write_encrypted`` (after its claims, while its
upload is open) until the test lets it go. No sleeps, no timing.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from exchange.protocol import outbound
from exchange.protocol.claims import ExchangeBusy
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import MANIFEST, bucket_name, list_exchanges, sequence_claim_key
from exchange.protocol.node import Node
from exchange.protocol.outbound import publish
from exchange.settings import load_settings
from exchange.storage.s3 import Store
from tests.conftest import start_seaweed
from tests.support.protocol import dataset, events, make_nodes

pytestmark = pytest.mark.cluster
BUCKET = bucket_name("KHM", "THA")
CHILDREN, WORKERS = "children_on_the_move.khm-tha", "workers_deployed.khm-tha"
WAIT = 120  # seconds a test waits for a thread it released; only a hang reaches it


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def khm(seaweed, tmp_path_factory) -> tuple[Node, Node]:
    """KHM on two machines (two copies of one home), each with its own S3 client; each test
    publishes periods of its own."""
    base = tmp_path_factory.mktemp("parties")
    nodes = make_nodes(seaweed, base / "one")
    second = Path(shutil.copytree(nodes["KHM"].home, base / "two" / "KHM"))
    return nodes["KHM"], Node(load_settings(party="KHM", home=second), Store(seaweed.client("KHM")))


@pytest.fixture(autouse=True)
def one_validation_at_a_time(monkeypatch):
    """Great Expectations is not thread-safe within one process (two validations at once in one
    interpreter mix up their checks); the runs here are threads of one process, where Airflow's
    Celery workers and the CLI are processes of their own. So validations take turns; uploads,
    claims and everything in the bucket still run at the same time."""
    turn, original = threading.Lock(), outbound.validate

    def validate(*args, **kwargs):
        with turn:
            return original(*args, **kwargs)

    monkeypatch.setattr(outbound, "validate", validate)


@pytest.fixture
def gate(monkeypatch):
    """The gate of one test; a failing test's slow run is let go at teardown."""
    made = Gate(monkeypatch)
    yield made
    made.release.set()


class Gate:
    """Stops the run in the thread named ``slow`` inside ``write_encrypted`` until released."""

    def __init__(self, monkeypatch):
        self.reached, self.release = threading.Event(), threading.Event()
        original = outbound.write_encrypted

        def gated(*args, **kwargs):
            if threading.current_thread().name == "slow":
                self.reached.set()
                assert self.release.wait(WAIT), "the test never released the slow run"
            return original(*args, **kwargs)

        monkeypatch.setattr(outbound, "write_encrypted", gated)

    def start(self, target, *args) -> dict:
        """Run ``target(*args)`` in the slow thread; wait until it is stopped at the gate."""
        out: dict = {}

        def run():
            try:
                out["result"] = target(*args)
            except Exception as exc:  # noqa: BLE001 - handed to the test
                out["error"] = exc

        out["thread"] = threading.Thread(target=run, name="slow")
        out["thread"].start()
        assert self.reached.wait(WAIT), out.get("error")
        return out

    def finish(self, out: dict):
        self.release.set()
        out["thread"].join(WAIT)
        if "error" in out:
            raise out["error"]
        return out["result"]


def exchanges(node: Node, dataset_name: str, period: str) -> list[Manifest]:
    refs = list_exchanges(node.store, BUCKET, f"{dataset_name}/{period}/")
    return [Manifest.from_json(node.store.get_bytes(BUCKET, r.key(MANIFEST), 1 << 20)) for r in refs]


def test_two_machines_publish_one_exchange_at_the_same_moment_exactly_once(khm, gate, tmp_path):
    first, second = khm
    source = dataset(CHILDREN, tmp_path, period="2026-01")
    slow = gate.start(publish, first, source, CHILDREN, "2026-01")
    with pytest.raises(ExchangeBusy) as busy:  # the other machine, while the first uploads
        publish(second, source, CHILDREN, "2026-01")
    assert "another run is publishing this exchange" in busy.value.message
    with pytest.raises(ExchangeBusy):  # a second worker on the first machine: its home's lock
        publish(first, source, CHILDREN, "2026-01")
    done = gate.finish(slow)
    again = publish(second, source, CHILDREN, "2026-01")  # the retry finds it published
    assert done.created_now  # (``again`` records the publish in its own home's audit log)
    assert (again.exchange_id, again.revision, again.sequence) == (done.exchange_id, 1, done.sequence)
    [only] = exchanges(first, "children_on_the_move", "2026-01")
    assert (only.exchange_id, only.revision, only.sequence) == (done.exchange_id, 1, done.sequence)


def test_a_retry_overlapping_a_slow_first_try_sends_nothing_twice(khm, gate, tmp_path):
    first, _ = khm
    source = dataset(WORKERS, tmp_path, period="2026-02")
    slow = gate.start(publish, first, source, WORKERS, "2026-02")
    with pytest.raises(ExchangeBusy):  # Airflow's retry of the same task while the first try hangs
        publish(first, source, WORKERS, "2026-02")
    done = gate.finish(slow)
    retry = publish(first, source, WORKERS, "2026-02")
    assert [m.exchange_id for m in exchanges(first, "workers_deployed", "2026-02")] == [done.exchange_id]
    assert (retry.exchange_id, retry.created_now) == (done.exchange_id, False)


def test_a_run_that_died_after_its_claim_is_taken_over_by_the_retry_of_its_home(khm, monkeypatch, tmp_path):
    first, second = khm
    source = dataset(WORKERS, tmp_path, period="2026-03")

    class Killed(BaseException):
        """The worker was killed during the upload (nothing of the run's own clean-up runs)."""

    def dies(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(outbound, "write_encrypted", dies)
    with pytest.raises(Killed):
        publish(first, source, WORKERS, "2026-03")
    monkeypatch.undo()
    with pytest.raises(ExchangeBusy):  # another machine cannot tell dead from slow before the lease
        publish(second, source, WORKERS, "2026-03")
    done = publish(first, source, WORKERS, "2026-03")  # its own home's lock is free: the run is dead
    assert done.created_now and done.revision == 1
    assert [m.exchange_id for m in exchanges(first, "workers_deployed", "2026-03")] == [done.exchange_id]


def test_sequences_of_a_direction_strictly_increase_under_concurrent_publishes(khm, monkeypatch, tmp_path):
    first, second = khm
    jobs = [(first, CHILDREN, "2026-05"), (second, CHILDREN, "2026-06"), (first, WORKERS, "2026-05"),
            (second, WORKERS, "2026-06")]
    together = threading.Barrier(len(jobs), timeout=WAIT)  # all four hold their claims at once
    original = outbound.write_encrypted

    def gated(*args, **kwargs):
        together.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(outbound, "write_encrypted", gated)
    results, errors = [], []

    def run(node, contract, period):
        try:
            results.append(publish(node, dataset(contract, tmp_path / f"{contract}{period}", period=period),
                                   contract, period))
        except Exception as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert [e.message for e in errors] == []
    concurrent = sorted(r.sequence for r in results)
    assert len(set(concurrent)) == len(jobs)
    monkeypatch.undo()
    later = publish(second, dataset(CHILDREN, tmp_path, period="2026-07"), CHILDREN, "2026-07")
    assert later.sequence > concurrent[-1]


def test_seaweedfs_creates_a_key_for_exactly_one_of_many_conditional_puts(seaweed):
    """The claim rests on S3's ``If-None-Match: *``: checked against the real server, eight
    writers at once on each of ten keys, each raw put racing (no HEAD before it)."""
    clients = [seaweed.client("KHM") for _ in range(8)]
    for round_ in range(10):
        key, start, won = f"claims/race/{round_:08d}.json", threading.Barrier(len(clients), timeout=WAIT), []

        def put(i, key=key, start=start, won=won):
            start.wait()
            try:
                clients[i].put_object(Bucket=BUCKET, Key=key, Body=str(i).encode(), IfNoneMatch="*")
                won.append(i)
            except clients[i].exceptions.ClientError as exc:
                assert exc.response["Error"]["Code"] in {"PreconditionFailed", "412", "ConditionalRequestConflict"}

        threads = [threading.Thread(target=put, args=(i,)) for i in range(len(clients))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert len(won) == 1
        assert clients[0].get_object(Bucket=BUCKET, Key=key)["Body"].read() == str(won[0]).encode()


def test_bucket_key_only_planted_claim_is_ignored_with_an_alarm(khm, tmp_path):
    first, _ = khm
    store = first.store
    store.put_if_absent(BUCKET, sequence_claim_key(50_000_000), b'{"claim": {}, "signature": ""}')
    store.put_if_absent(BUCKET, "claims/children_on_the_move/2026-08/00000001.json", b"not a claim")
    done = publish(first, dataset(CHILDREN, tmp_path, period="2026-08"), CHILDREN, "2026-08")
    assert done.created_now and done.revision == 2 and done.sequence < 50_000_000
    planted = {e["where"] for e in events(first, "alarm", kind="manifest-untrusted") if "/claims/" in e["where"]}
    assert planted == {f"s3://{BUCKET}/{sequence_claim_key(50_000_000)}",
                       f"s3://{BUCKET}/claims/children_on_the_move/2026-08/00000001.json"}
