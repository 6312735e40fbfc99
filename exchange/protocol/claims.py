"""Atomic claims: which run publishes an exchange, and with which revision and sequence.

Several runs may publish at the same moment: two Celery workers given the same outbound task,
a retry overlapping a slow first try, the CLI beside the DAG, two datasets to one partner.
Deriving the revision and the sequence from what is already in the bucket races: two runs read
the same bucket and pick the same numbers. So each run *claims* them with an S3 conditional put
(``If-None-Match: *``: S3 creates the key for exactly one writer and answers 412 to the others;
AWS S3 and SeaweedFS both honour it; ``tests/cluster/test_concurrent_publish.py`` checks the latter),
which is correct across machines because the bucket decides, not a lock on one host.

Layout, in the direction's bucket (the reserved area ``claims/``, see
:mod:`exchange.protocol.naming`)::

    claims/{dataset}/{period}/{revision:08d}.json   the run that publishes that revision
    claims/sequence/{sequence:08d}.json             the exchange that holds that sequence

A claim is a small JSON object holding the claim and the sender's minisign signature over it
(trusted comment bound to the bucket and key), so a claim planted with a leaked bucket key is ignored
with an alarm, never obeyed. The rules:

* a run holds its home's lock of the dataset and period (:func:`publishing`, a file lock in
  ``outbound/_publishing/``) while it publishes: a second run on the same home is busy at once;
* revisions are tried upwards from the newest this node trusts; the run that creates the claim
  publishes that revision; a claim of the same exchange by another run that is still within
  :data:`LEASE` is :class:`ExchangeBusy` (transient: Airflow retries, and the retry finds the
  exchange published). A claim made from this very home (its token is in the home's lock file,
  whichever worker sharing the home made it) belongs to a run that ended (this run holds the
  lock), so it is taken over at once: the retry after a crash. A claim older than the lease (by
  the store's clock, see :meth:`Claim.fresh`) belongs to a run presumed dead: the same exchange is
  taken over, another input's revision is skipped. The DAG's publish task must
  therefore time out (``execution_timeout``) well within the lease.
* a revision of the same dataset and period still in flight by another run makes this run
  busy too, so a newer revision always claims its sequence after the older one did;
* sequences are claimed upwards from the highest claimed one: every publish of the direction
  gets its own, strictly above every sequence claimed before it. Gaps (a dead run's claim)
  are allowed: recipients require only that sequences increase.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from exchange.canonical import canonical_json
from exchange.clock import parse_time, utc_now
from exchange.errors import NotFound, ObjectTooLarge, ProtocolError, TransientError
from exchange.protocol.manifest import Manifest, exchange_id
from exchange.protocol.naming import (
    OUTBOUND,
    PUBLISHING,
    revision_claim_key,
    sequence_claim_key,
    sequence_claims,
)
from exchange.protocol.node import Node
from exchange.protocol.sent import UNTRUSTED, alarm, trusted_manifests
from exchange.protocol.strict import parse_json

FORMAT = "gcmx-claim/1"
CLAIM_MAX = 4096  # a genuine claim is about 600 bytes
LEASE = timedelta(hours=2)  # a claim older than this belongs to a run presumed dead
SKEW = timedelta(hours=2)  # how far the clock of the machine that made a claim may lag the store's
TRIES = 64  # claims tried before giving up (each skipped one is another run's or planted)
REMEMBERED = 64  # tokens of this home's runs kept in a period's lock file (older runs are past the lease)


class ExchangeBusy(TransientError):
    """Another run is publishing this exchange (or an older revision of its period) right now."""

    FIELDS = ("bucket", "key", "exchange_id", "path")


@dataclass(frozen=True)
class Claim:
    """One claim: ``exchange_id`` holds the revision or sequence named by ``key`` in ``bucket`` (both
    signed: a claim copied from another direction's bucket is not this one's)."""

    format: str
    bucket: str
    key: str
    exchange_id: str
    token: str
    claimed: str
    holder: str  # host and home of the run, for people (a run of this home is told by its token)

    def comment(self) -> str:
        return f"gcmx claim s3://{self.bucket}/{self.key} {self.exchange_id}"

    def fresh(self, node: Node, bucket: str) -> bool:
        """Whether the run that made it may still be working: the store wrote it within :data:`LEASE`
        by the store's own clock (no machine's clock decides: one running ahead would take over a live
        run), and its signed time is within ``LEASE + SKEW`` by that clock (a dead run's claim put
        there again with a leaked bucket key does not renew its lease)."""
        try:
            now, written = node.store.written(bucket, self.key)
        except NotFound:
            return False
        made = parse_time(self.claimed)
        return now - written < LEASE and made is not None and now - made < LEASE + SKEW


@dataclass(frozen=True)
class Allocation:
    """What a run may publish: the revision and sequence it claimed for ``exchange_id``."""

    exchange_id: str
    revision: int
    sequence: int


def _signed(node: Node, claim: Claim) -> bytes:
    body = canonical_json(asdict(claim))
    signature = node.identity.signing_key.sign(body, claim.comment()).decode()
    return json.dumps({"claim": asdict(claim), "signature": signature}).encode()


def _read(node: Node, bucket: str, key: str) -> Claim | None:
    """The claim at ``key`` if this node signed it for that key; None (with an alarm) if not."""
    where = f"s3://{bucket}/{key}"
    try:
        outer = parse_json(node.store.get_bytes(bucket, key, CLAIM_MAX), "claim", where)  # no RecursionError
        claim = Claim(**outer["claim"])
        body = canonical_json(asdict(claim))
        comment = node.identity.signing_key.public_key.verify(body, outer["signature"], where)
        if comment != claim.comment() or (claim.bucket, claim.key) != (bucket, key) or claim.format != FORMAT:
            raise ProtocolError(f"{where}: a claim signed for another key", hint="it was copied there")
        return claim
    except (*UNTRUSTED, ObjectTooLarge, ValueError, TypeError, KeyError) as exc:
        partner = bucket.rsplit("-", 1)[-1].upper()
        alarm(node, partner, where, getattr(exc, "message", f"not a claim this node signed ({type(exc).__name__})"))
        return None


def _holder(node: Node) -> str:
    return f"{socket.gethostname()}:{node.home}"


def _lock_path(node: Node, bucket: str, dataset: str, period: str) -> Path:
    return node.folder(OUTBOUND) / PUBLISHING / f"{bucket}.{dataset}.{period}.lock"


def _remember(node: Node, bucket: str, dataset: str, period: str, token: str) -> None:
    """Note ``token`` in this home's lock of the period (held by this run), before its first claim."""
    with open(_lock_path(node, bucket, dataset, period), "r+") as lock:  # in place: the flock stays
        kept = lock.read().split()[-(REMEMBERED - 1):]
        lock.seek(0)
        lock.truncate()
        lock.write("\n".join([*kept, token]) + "\n")


def _this_home(node: Node, bucket: str, dataset: str, period: str, claim: Claim) -> bool:
    """Whether ``claim`` was made by a run of this very home (its token is in the home's lock file),
    by any worker sharing the home whatever its host; a copy of the home made before does not count."""
    return claim.token in _lock_path(node, bucket, dataset, period).read_text().split()


@contextmanager
def publishing(node: Node, bucket: str, dataset: str, period: str) -> Iterator[None]:
    """Hold this home's lock of ``dataset`` and ``period`` while publishing; ExchangeBusy if another
    run of this home holds it. A claim of this home whose lock is free belongs to a dead run."""
    path = _lock_path(node, bucket, dataset, period)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExchangeBusy(f"{dataset} {period} to {bucket}: another run of this node is publishing it "
                               f"({path} is locked)", hint="nothing to do: the task is retried and then "
                               "finds it published", path=str(path)) from None
        yield


def _create(node: Node, bucket: str, key: str, eid: str, token: str) -> bool:
    claim = Claim(FORMAT, bucket, key, eid, token, utc_now(), _holder(node))
    return node.store.put_if_absent(bucket, key, _signed(node, claim))


def claim_revision(node: Node, bucket: str, recipient: str, dataset: str, period: str, source_sha: str,
                   own: dict[str, Manifest], token: str) -> tuple[int, str] | Manifest:
    """Claim the next revision of ``dataset`` and ``period`` for this input: ``(revision, exchange_id)``,
    or the trusted manifest when another run published this very exchange meanwhile.

    ExchangeBusy when another run is publishing it (or an older revision of the period). Called
    within :func:`publishing`, so a claim made from this home belongs to a run that died."""
    _remember(node, bucket, dataset, period, token)
    revision = 1 + max((m.revision for m in own.values() if m.period == period), default=0)
    for _ in range(TRIES):
        eid = exchange_id(node.party, recipient, dataset, period, revision, source_sha)
        key = revision_claim_key(dataset, period, revision)
        if _create(node, bucket, key, eid, token):
            return revision, eid
        claim = _read(node, bucket, key)
        if claim is None:  # planted: skipped
            revision += 1
            continue
        mine = _this_home(node, bucket, dataset, period, claim)  # this home's lock is held by this run: it ended
        done = _published(node, bucket, recipient, dataset, claim.exchange_id, own)
        if done is None and claim.fresh(node, bucket) and not mine:
            what = "this exchange" if claim.exchange_id == eid else f"revision {revision} of this period"
            raise ExchangeBusy(f"s3://{bucket}/{key}: another run is publishing {what} "
                               f"(exchange {claim.exchange_id}, claimed {claim.claimed})",
                               hint="nothing to do: the task is retried and then finds it published",
                               bucket=bucket, key=key, exchange_id=claim.exchange_id)
        if claim.exchange_id == eid:
            return done if done is not None else (revision, eid)  # published, or taken over from a dead run
        if mine and done is None:  # an earlier run of this home that sent nothing: its revision is free
            node.store.put_bytes(bucket, key, _signed(node, Claim(FORMAT, bucket, key, eid, token, utc_now(),
                                                                  _holder(node))))
            return revision, eid
        revision += 1
    raise ProtocolError(f"s3://{bucket}/{revision_claim_key(dataset, period, revision)}: {TRIES} revisions "
                        "in a row are claimed by others", hint="look for claims planted under claims/ and "
                        "remove them; then re-run publish", bucket=bucket)


def claim_sequence(node: Node, bucket: str, eid: str, own: dict[str, Manifest], token: str) -> int:
    """Claim the next sequence number of the direction ``bucket`` for exchange ``eid``."""
    listed = sorted(sequence_claims(node.store.list_keys(bucket, sequence_claim_key(0)[:-len("00000000.json")])),
                    reverse=True)
    floor = max((m.sequence for m in own.values()), default=0)
    for checked, sequence in enumerate(s for s in listed if s > floor):
        if checked == TRIES:
            break
        if _read(node, bucket, sequence_claim_key(sequence)) is not None:
            floor = sequence  # the highest genuine claim; planted ones above it are skipped
            break
    for sequence in range(floor + 1, floor + 1 + TRIES):
        if _create(node, bucket, sequence_claim_key(sequence), eid, token):
            return sequence
    raise ProtocolError(f"s3://{bucket}/{sequence_claim_key(floor + 1)}: {TRIES} sequences in a row are "
                        "claimed by others", hint="look for claims planted under claims/sequence/ and remove "
                        "them; then re-run publish", bucket=bucket)


def _published(node: Node, bucket: str, recipient: str, dataset: str, eid: str,
               own: dict[str, Manifest]) -> Manifest | None:
    """The trusted manifest of ``eid`` if it is published (freshly listed, not only in ``own``)."""
    if eid in own:
        return own[eid]
    return trusted_manifests(node, bucket, dataset, recipient).get(eid)


def allocate(node: Node, bucket: str, recipient: str, dataset: str, period: str, source_sha: str,
             own: dict[str, Manifest]) -> Allocation | Manifest:
    """Claim a revision and then a sequence for publishing ``source_sha``; or the manifest of this
    exchange when another run published it meanwhile. ``own``: the trusted manifests of ``dataset``."""
    token = secrets.token_hex(8)
    claimed = claim_revision(node, bucket, recipient, dataset, period, source_sha, own, token)
    if isinstance(claimed, Manifest):
        return claimed
    revision, eid = claimed
    return Allocation(eid, revision, claim_sequence(node, bucket, eid, own, token))

