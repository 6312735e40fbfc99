"""Every name of the exchange, formatted and parsed in one place: buckets, object keys, home folders.

**Buckets.** One bucket per direction, ``{sender}-to-{recipient}`` in lower case (``khm-to-tha``);
only the sender writes it.

**Object keys** in a bucket:

* an exchange: ``{dataset}/{period}/{exchange_id}/{name}`` with ``dataset`` ``[a-z0-9_]`` (1 to 64),
  ``period`` ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` (ASCII digits), ``exchange_id`` 32 lowercase hex
  digits and ``name`` ``data.parquet.age``, ``manifest.json`` or ``manifest.json.minisig``;
* receipts (in the recipient's outbound bucket): ``receipts/{dataset}/{period}/{exchange_id}.json``;
* the freshness index: ``index/{seq:08d}.json``;
* publish claims: ``claims/{dataset}/{period}/{revision:08d}.json`` and
  ``claims/sequence/{sequence:08d}.json`` (:mod:`exchange.protocol.claims`);
* audit checkpoints: ``audit/{PARTY}/checkpoint-{seq:08d}.json`` and ``audit/{PARTY}/latest.json``;
* every signed object has its minisign signature at ``{key}.minisig``.

Top-level areas that are not datasets (``audit/``, ``receipts/``, ``index/``) are reserved. Any
other key was not written by a gcmx sender (it was planted with a leaked bucket key, or is
debris): readers ignore it and never use it as a file name.

**A node's home** (``GCMX_HOME``, all inside the party's own country)::

    keys/         this party's secret keys (GCMX_IDENTITY overrides)
    keyring/      partners' public keys (GCMX_KEYRING overrides)
    agreements/   contract signatures ({contract}@{version}.{PARTY}.minisig)
    outbox/       {contract}/{period}.parquet: what the office drops to send
    outbound/     {exchange_id}/ manifest.json, disclosure.json, receipt.json once delivered;
                  _released/{contract}.parquet: what linked releases already sent;
                  _staged/{contract}/{period}/: what the DAG protected, until publish sends it;
                  _publishing/{bucket}.{dataset}.{period}.lock: held while a run publishes
                  (it lists the claim tokens of this home's runs)
    landing/      {sender}/{dataset}/{period}/{exchange_id}/ data.parquet, manifest.json, validation.json
    inbound/      {sender}/{dataset}/{period}/{exchange_id}.json: the decision on each inbound exchange
    quarantine/   {contract}-{period}-{sha12}/ (an outbound input blocked before sending) or
                  {exchange_id}[.{sha12}]/ (a rejected inbound exchange): reason.json and the input
    audit/        {PARTY}.audit.jsonl and checkpoints/ (checkpoint-{seq:08d}.json, latest.json)
    freshness/    to-{RECIPIENT}.jsonl (own index), from-{SENDER}.json (what a sender's index showed)
    witness/      {PARTNER}.json: the partner's audit checkpoints seen
    reports/      {PARTY}-report.html

This module imports nothing but the standard library and the error root: the DAG file uses it
while Airflow parses DAGs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from exchange.errors import ProtocolError

# Object names of one exchange.
DATA = "data.parquet.age"
MANIFEST = "manifest.json"
SIGNATURE_SUFFIX = ".minisig"
SIGNATURE = MANIFEST + SIGNATURE_SUFFIX
OBJECT_NAMES = frozenset({DATA, MANIFEST, SIGNATURE})

# Reserved top-level areas of a bucket.
RECEIPTS = "receipts"
INDEX = "index"
AUDIT = "audit"
KEY_STATEMENTS = "keys"  # rotation and revocation statements of the bucket's writer
DELETIONS = "deletions"  # signed deletion statements when retention ends
CLAIMS = "claims"  # which run publishes a revision, which exchange holds a sequence
RESERVED = frozenset({AUDIT, RECEIPTS, INDEX, KEY_STATEMENTS, DELETIONS, CLAIMS})

# Folders of a node's home (see the module docstring).
KEYS = "keys"
KEYRING = "keyring"
AGREEMENTS = "agreements"
OUTBOX = "outbox"
OUTBOUND = "outbound"
RELEASED = "_released"  # in outbound/: what linked releases already sent
STAGED = "_staged"  # in outbound/: what the DAG protected, until publish sends it
PUBLISHING = "_publishing"  # in outbound/: a lock per dataset and period while a run publishes
LANDING = "landing"
INBOUND = "inbound"
QUARANTINE = "quarantine"
AUDIT_FOLDER = "audit"
CHECKPOINTS = "checkpoints"
FRESHNESS = "freshness"
WITNESS = "witness"
REPORTS = "reports"
LATEST_CHECKPOINT = "latest.json"

_PARTY = re.compile(r"[A-Za-z]{3}")
_BUCKET = re.compile(r"(?P<sender>[a-z]{3})-to-(?P<recipient>[a-z]{3})")
_DATASET = re.compile(r"[a-z0-9_]{1,64}")
_PERIOD = re.compile(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?")
_EXCHANGE_ID = re.compile(r"[0-9a-f]{32}")
_SEQ = r"(?P<seq>[0-9]{8})"
_LOOSE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_RECEIPT_KEY = re.compile(
    rf"{RECEIPTS}/(?P<dataset>{_LOOSE})/(?P<period>{_LOOSE})/(?P<exchange_id>[0-9a-f]{{32}})\.json")
_INDEX_KEY = re.compile(rf"{INDEX}/{_SEQ}\.json")
_SEQUENCE_CLAIM = re.compile(rf"{CLAIMS}/sequence/{_SEQ}\.json")
_CHECKPOINT_KEY = re.compile(rf"{AUDIT}/(?P<party>[A-Z]{{3}})/checkpoint-{_SEQ}\.json")
_CONTRACT_ID = re.compile(r"(?P<dataset>[a-z][a-z0-9_]*)\.(?P<sender>[a-z]{3})-(?P<recipient>[a-z]{3})")
_AGREEMENT = re.compile(r"(?P<contract_id>[^@/]+)@(?P<version>[^@/]+)\.(?P<party>[A-Z]{3})\.minisig")
_BLOCKED = re.compile(rf"(?P<contract_id>{_CONTRACT_ID.pattern})-(?P<period>.+)-(?P<sha>[0-9a-f]{{12}})")


def _party(code: str) -> str:
    if not isinstance(code, str) or not _PARTY.fullmatch(code):
        raise ProtocolError(f"not a party code: {code!r}", hint="parties are ISO alpha-3 codes such as KHM")
    return code.upper()


# --- buckets -------------------------------------------------------------------------------------

def bucket_name(sender: str, recipient: str) -> str:
    """The bucket of one direction, e.g. ``khm-to-tha``."""
    return f"{_party(sender).lower()}-to-{_party(recipient).lower()}"


def parse_bucket(name: str) -> tuple[str, str] | None:
    """``(SENDER, RECIPIENT)`` of a bucket name, or None if it is not one."""
    match = _BUCKET.fullmatch(name) if isinstance(name, str) else None
    return (match["sender"].upper(), match["recipient"].upper()) if match else None


# --- exchanges -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExchangeRef:
    """One exchange in a bucket, named by its prefix ``{dataset}/{period}/{exchange_id}``."""

    bucket: str
    dataset: str
    period: str
    exchange_id: str

    @property
    def prefix(self) -> str:
        return f"{self.dataset}/{self.period}/{self.exchange_id}"

    def key(self, name: str) -> str:
        """The object key of ``name`` (DATA, MANIFEST or SIGNATURE) in this exchange."""
        return f"{self.prefix}/{name}"

    def where(self, name: str = "") -> str:
        """``s3://bucket/prefix[/name]`` for messages."""
        return f"s3://{self.bucket}/{self.prefix}" + (f"/{name}" if name else "")


@dataclass(frozen=True)
class Scan:
    """A bucket listing sorted out: complete exchanges, and keys that fit no layout."""

    refs: list[ExchangeRef] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _parts_ok(dataset: str, period: str, exchange_id: str) -> bool:
    return all(isinstance(p, str) for p in (dataset, period, exchange_id)) and bool(
        _DATASET.fullmatch(dataset) and _PERIOD.fullmatch(period) and _EXCHANGE_ID.fullmatch(exchange_id))


def parse_exchange_prefix(prefix: str, bucket: str = "") -> ExchangeRef | None:
    """The exchange named by ``{dataset}/{period}/{exchange_id}``, or None if it does not fit."""
    parts = prefix.split("/") if isinstance(prefix, str) else []
    if len(parts) != 3 or not _parts_ok(*parts):
        return None
    return ExchangeRef(bucket, *parts)


def parse_exchange_key(key: str, bucket: str = "") -> ExchangeRef | None:
    """The exchange an object key belongs to, or None if the key does not fit the wire layout."""
    if not isinstance(key, str):
        return None
    prefix, _, name = key.rpartition("/")
    return parse_exchange_prefix(prefix, bucket) if name in OBJECT_NAMES else None


def exchange_prefix(dataset: str, period: str, exchange_id: str) -> str:
    """Format a prefix; ProtocolError if a part would not parse back."""
    if not _parts_ok(dataset, period, exchange_id):
        raise ProtocolError(f"not an exchange prefix: dataset {dataset!r}, period {period!r}, "
                            f"exchange id {exchange_id!r}",
                            hint="datasets are [a-z0-9_], periods YYYY-MM/YYYY-Qn/YYYY, ids 32 hex digits")
    return f"{dataset}/{period}/{exchange_id}"


def is_reserved(key: str) -> bool:
    """Whether ``key`` lies in a top-level area that is not a dataset (audit, receipts, index)."""
    return key.split("/", 1)[0] in RESERVED


def scan(keys: Iterable[str], bucket: str = "") -> Scan:
    """Sort a listing into complete exchanges (manifest and signature present) and odd keys.

    Keys of reserved areas are neither. A prefix with data but no signed manifest is an
    unfinished publish: not an exchange yet, and not odd either.
    """
    seen: dict[ExchangeRef, set[str]] = {}
    ignored = []
    for key in keys:
        if is_reserved(key):
            continue
        ref = parse_exchange_key(key, bucket)
        if ref is None:
            ignored.append(key)
        else:
            seen.setdefault(ref, set()).add(key.rsplit("/", 1)[1])
    refs = [ref for ref, names in sorted(seen.items(), key=lambda item: item[0].prefix)
            if {MANIFEST, SIGNATURE} <= names]
    return Scan(refs, ignored)


def scan_exchanges(store, bucket: str, prefix: str = "") -> Scan:
    """List ``bucket`` (any store with ``list_keys``) and sort the keys with :func:`scan`;
    odd keys are for the caller to note, never to use."""
    return scan(store.list_keys(bucket, prefix), bucket)


def list_exchanges(store, bucket: str, prefix: str = "") -> list[ExchangeRef]:
    """Complete exchanges under ``prefix``: those whose manifest and signature both exist."""
    return scan_exchanges(store, bucket, prefix).refs


def signature_key(key: str) -> str:
    """Where the minisign signature of the object ``key`` lies."""
    return key + SIGNATURE_SUFFIX


# --- receipts, index, audit checkpoints -----------------------------------------------------------

def receipt_key(dataset: str, period: str, exchange_id: str) -> str:
    """``receipts/{dataset}/{period}/{exchange_id}.json``, in the recipient's outbound bucket."""
    return f"{RECEIPTS}/{exchange_prefix(dataset, period, exchange_id)}.json"


def parse_receipt_key(key: str, bucket: str = "") -> ExchangeRef | None:
    """The exchange a receipt key claims to answer, or None if the key is not a receipt's.

    Looser than :func:`receipt_key` on purpose (dataset and period need only be short, safe
    names): a planted receipt under an odd dataset or period is read and reported ``invalid``
    against the sender's own record, never silently skipped."""
    match = _RECEIPT_KEY.fullmatch(key) if isinstance(key, str) else None
    return ExchangeRef(bucket, match["dataset"], match["period"], match["exchange_id"]) if match else None


def index_key(seq: int) -> str:
    """``index/{seq:08d}.json``: one entry of the sender's freshness index."""
    return f"{INDEX}/{seq:08d}.json"


def parse_index_key(key: str) -> int | None:
    """The sequence number of an index entry key, or None."""
    match = _INDEX_KEY.fullmatch(key) if isinstance(key, str) else None
    return int(match["seq"]) if match else None


def revision_claim_key(dataset: str, period: str, revision: int) -> str:
    """``claims/{dataset}/{period}/{revision:08d}.json``: the run that publishes that revision."""
    if not _parts_ok(dataset, period, "0" * 32):
        raise ProtocolError(f"not a dataset and period: {dataset!r}, {period!r}",
                            hint="datasets are [a-z0-9_], periods YYYY-MM/YYYY-Qn/YYYY")
    return f"{CLAIMS}/{dataset}/{period}/{revision:08d}.json"


def sequence_claim_key(sequence: int) -> str:
    """``claims/sequence/{sequence:08d}.json``: the exchange that holds that sequence of the direction."""
    return f"{CLAIMS}/sequence/{sequence:08d}.json"


def sequence_claims(keys: Iterable[str]) -> list[int]:
    """The sequence numbers of the sequence claim keys among ``keys`` (others are skipped)."""
    return [int(m["seq"]) for m in map(_SEQUENCE_CLAIM.fullmatch, keys) if m]


def checkpoint_prefix(party: str) -> str:
    """``audit/{PARTY}/checkpoint-``: where a party's numbered checkpoints are listed."""
    return f"{AUDIT}/{_party(party)}/checkpoint-"


def checkpoint_key(party: str, seq: int) -> str:
    """Object key of one checkpoint in a party's outbound bucket."""
    return f"{checkpoint_prefix(party)}{seq:08d}.json"


def latest_checkpoint_key(party: str) -> str:
    """Object key of a party's most recent checkpoint."""
    return f"{AUDIT}/{_party(party)}/{LATEST_CHECKPOINT}"


def parse_checkpoint_key(key: str) -> tuple[str, int] | None:
    """``(PARTY, seq)`` of a numbered checkpoint key, or None."""
    match = _CHECKPOINT_KEY.fullmatch(key) if isinstance(key, str) else None
    return (match["party"], int(match["seq"])) if match else None


# --- names in a node's home -----------------------------------------------------------------------

def contract_id(dataset: str, sender: str, recipient: str) -> str:
    """``{dataset}.{sender}-{recipient}``, e.g. ``workers_deployed.khm-tha``."""
    return f"{dataset}.{_party(sender).lower()}-{_party(recipient).lower()}"


def parse_contract_id(name: str) -> tuple[str, str, str] | None:
    """``(dataset, SENDER, RECIPIENT)`` of a contract id, or None."""
    match = _CONTRACT_ID.fullmatch(name) if isinstance(name, str) else None
    return (match["dataset"], match["sender"].upper(), match["recipient"].upper()) if match else None


def agreement_file(contract: str, version: str, party: str) -> str:
    """``{contract}@{version}.{PARTY}.minisig``: ``party``'s signature of one contract version."""
    return f"{contract}@{version}.{_party(party)}{SIGNATURE_SUFFIX}"


def parse_agreement_file(name: str) -> tuple[str, str, str] | None:
    """``(contract, version, PARTY)`` of an agreement file name, or None."""
    match = _AGREEMENT.fullmatch(name) if isinstance(name, str) else None
    return (match["contract_id"], match["version"], match["party"]) if match else None


@dataclass(frozen=True)
class Blocked:
    """The name of an outbound input quarantined before sending."""

    contract_id: str
    dataset: str
    sender: str
    recipient: str
    period: str
    sha12: str


def blocked_name(contract: str, period: str, source_sha256: str) -> str:
    """``{contract}-{period}-{sha12}``: the quarantine folder of an input blocked before sending."""
    return f"{contract}-{period}-{source_sha256[:12]}"


def parse_blocked_name(name: str) -> Blocked | None:
    """What a quarantine folder name says about a blocked outbound input, or None."""
    match = _BLOCKED.fullmatch(name) if isinstance(name, str) else None
    if not match:
        return None
    return Blocked(match["contract_id"], match["dataset"], match["sender"].upper(),
                   match["recipient"].upper(), match["period"], match["sha"])


def rejected_name(exchange_id: str, copy_of: str | None = None) -> str:
    """``{exchange_id}`` or ``{exchange_id}.{sha12}``: the quarantine folder of a rejected inbound
    exchange; the suffix tells apart another prefix of the same id (a planted copy)."""
    return exchange_id if copy_of is None else f"{exchange_id}.{copy_of[:12]}"


def audit_log_file(party: str) -> str:
    """``{PARTY}.audit.jsonl``: a party's audit log, in ``audit/``."""
    return f"{_party(party)}.audit.jsonl"


def checkpoint_file(seq: int) -> str:
    """``checkpoint-{seq:08d}.json``: a local copy of one checkpoint, in ``audit/checkpoints/``."""
    return f"checkpoint-{seq:08d}.json"


def report_file(party: str) -> str:
    """``{PARTY}-report.html``: the auditor's report, in ``reports/``."""
    return f"{_party(party)}-report.html"


# --- deletion statements (issue 15) ---------------------------------------------------------------
# In the deleting party's outbound bucket: ``deletions/{dataset}/{period}/{exchange_id}.json`` (and
# ``.minisig``), one per exchange whose retention ended. In a home: ``retention/`` holds this
# party's own signed statements (``deleted/{exchange_id}.json`` and ``.minisig``), the partners'
# verified ones (``confirmed/{exchange_id}.json``) and the last run's report (``status.json``).

RETENTION = "retention"
_DELETION_KEY = re.compile(
    rf"{DELETIONS}/(?P<dataset>{_LOOSE})/(?P<period>{_LOOSE})/(?P<exchange_id>[0-9a-f]{{32}})\.json")


def deletion_key(dataset: str, period: str, exchange_id: str) -> str:
    """``deletions/{dataset}/{period}/{exchange_id}.json``, in the deleting party's outbound bucket."""
    return f"{DELETIONS}/{exchange_prefix(dataset, period, exchange_id)}.json"


def parse_deletion_key(key: str, bucket: str = "") -> ExchangeRef | None:
    """The exchange a deletion statement's key names, or None if the key is not one (loose like
    :func:`parse_receipt_key`: an odd one is read and found invalid, never silently skipped)."""
    match = _DELETION_KEY.fullmatch(key) if isinstance(key, str) else None
    return ExchangeRef(bucket, match["dataset"], match["period"], match["exchange_id"]) if match else None


# --- key statements (issue 15) -------------------------------------------------------------------
# In the writer's own outbound buckets: ``keys/rotation-{OLD}-{NEW}.json`` (a rotation of its
# minisign key, signed by the old key at ``.minisig`` and by the new one at ``.new.minisig``) and
# ``keys/revocation-{KEY_ID}.json`` (signed by its offline revocation key at ``.minisig``).

NEW_SIGNATURE_SUFFIX = ".new" + SIGNATURE_SUFFIX
_KEY_ID = r"[0-9A-Fa-f]{1,16}"
_ROTATION_KEY = re.compile(rf"{KEY_STATEMENTS}/rotation-(?P<old>{_KEY_ID})-(?P<new>{_KEY_ID})\.json")
_REVOCATION_KEY = re.compile(rf"{KEY_STATEMENTS}/revocation-(?P<key_id>{_KEY_ID})\.json")


def _key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not re.fullmatch(_KEY_ID, key_id):
        raise ProtocolError(f"not a key id: {key_id!r}", hint="key ids are 1 to 16 hex digits, as gcmx shows them")
    return key_id


def rotation_key(old_key_id: str, new_key_id: str) -> str:
    """``keys/rotation-{OLD}-{NEW}.json``: a party's rotation from one minisign key to the next."""
    return f"{KEY_STATEMENTS}/rotation-{_key_id(old_key_id)}-{_key_id(new_key_id)}.json"


def parse_rotation_key(key: str) -> tuple[str, str] | None:
    """``(OLD, NEW)`` key ids of a rotation statement's key, or None."""
    match = _ROTATION_KEY.fullmatch(key) if isinstance(key, str) else None
    return (match["old"], match["new"]) if match else None


def revocation_key(key_id: str) -> str:
    """``keys/revocation-{KEY_ID}.json``: a party's revocation of one of its keys."""
    return f"{KEY_STATEMENTS}/revocation-{_key_id(key_id)}.json"


def parse_revocation_key(key: str) -> str | None:
    """The key id a revocation statement's key names, or None."""
    match = _REVOCATION_KEY.fullmatch(key) if isinstance(key, str) else None
    return match["key_id"] if match else None


def new_signature_key(key: str) -> str:
    """Where the signature by the *new* key of a rotation statement lies."""
    return key + NEW_SIGNATURE_SUFFIX
