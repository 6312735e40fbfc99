"""The one function each Airflow task calls: plain Python, testable without Airflow.

Every function takes the boto3 S3 client the caller built (from an Airflow connection,
or a test server) and keyword arguments that are plain values, builds the party's Node
from ``GCMX_*`` settings, does one step of the exchange and returns a JSON-able dict
with no secrets and no record values: safe for XCom and logs.

Failures raise their typed error (:mod:`exchange.errors`): a TerminalError (contract
breach, bad signature, rejected exchange) or a TransientError (S3 unreachable). The one
place that maps them to Airflow is ``exchange.orchestration.airflow_glue.run``.

The outbound DAG runs validate → protect → publish → record and each heavy step once:
``validate_outbound`` runs the contract's checks, ``protect_outbound`` protects and stages
the result in the node's outbound folder (:mod:`exchange.protocol.staged`), and
``publish_outbound`` encrypts and uploads exactly those bytes. Each loads and verifies the
contract once; they pass each other small summaries, never data.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from exchange.contract.terms import PERIODS
from exchange.errors import ContractError, NotFound
from exchange.protocol.naming import OUTBOX
from exchange.settings import Settings, load_settings

if TYPE_CHECKING:  # imported at run time only: DAG files import this module while parsing
    from exchange.protocol.node import Node

log = logging.getLogger(__name__)


def node_for(client, settings: Settings | None = None) -> Node:
    """The configured party's node, talking to S3 through ``client``."""
    from exchange.protocol.node import Node
    from exchange.storage.s3 import Store

    return Node(settings or load_settings(), Store(client))


def previous_period(kind: str, day: date | datetime) -> str:
    """The last complete reporting period before ``day``: ``2025-02`` or ``2024-Q4``."""
    if kind == "quarterly":
        quarter = (day.month - 1) // 3
        return f"{day.year - 1}-Q4" if quarter == 0 else f"{day.year}-Q{quarter}"
    return f"{day.year - 1}-12" if day.month == 1 else f"{day.year}-{day.month - 1:02d}"


def require_period(kind: str, period: str, contract_id: str) -> str:
    """``period`` when it is a ``kind`` period; else the ContractError the CLI gives for it."""
    if not PERIODS[kind].match(period):
        example = "2025-03" if kind == "monthly" else "2025-Q1"
        raise ContractError(f"period {period!r} is not a {kind} period",
                            hint=f"contract {contract_id} expects periods like {example}")
    return period


def outbox_path(settings: Settings, contract_id: str, period: str) -> Path:
    """Where the office drops the file to send: ``{GCMX_HOME}/outbox/{contract}/{period}.parquet``."""
    return settings.home / OUTBOX / contract_id / f"{period}.parquet"


def _source(node: Node, contract_id: str, period: str, source: str | None) -> Path:
    path = Path(source) if source else outbox_path(node.settings, contract_id, period)
    if not path.is_file():
        raise NotFound(f"no dataset to send for {contract_id} {period}: {path} does not exist",
                       hint=f"put the {period} Parquet file at {path}, or trigger with a 'source' path")
    return path


def validate_outbound(client, contract_id: str, period_kind: str, period: str | None = None,
                      source: str | None = None, logical_date: datetime | None = None) -> dict:
    """Check the period's file against its contract; quarantine it on a breach (nothing sent).

    ``period_kind`` (the contract's ``period``, known to the DAG) picks the last complete
    period before ``logical_date`` when no ``period`` is given."""
    from exchange.protocol.outbound import check_source
    from exchange.storage.streams import file_sha256

    node = node_for(client)
    period = require_period(period_kind, period or previous_period(period_kind, logical_date or datetime.now()),
                            contract_id)
    path = _source(node, contract_id, period, source)
    summary = check_source(node, path, contract_id, period)
    return {"contract": contract_id, "period": period, "source": str(path),
            "source_sha256": file_sha256(path), "validation": summary.to_dict()}


def protect_outbound(client, contract_id: str, period: str, source: str) -> dict:
    """Protect the file once and stage the result for publish; return the disclosure counts."""
    from exchange.protocol.staged import stage_protection

    node = node_for(client)
    staged = stage_protection(node, _source(node, contract_id, period, source), contract_id, period)
    return {"contract": contract_id, "period": period, "staged": staged["staged"],
            "record_sha256": staged["record_sha256"], "rows": staged["rows"],
            "disclosure": staged["for_partner"], "suppressed": suppressed_count(staged["disclosure"])}


def publish_outbound(client, contract_id: str, period: str, source: str, checked: dict | None = None,
                     protected: dict | None = None) -> dict:
    """Encrypt, sign and publish the exchange; a re-run finishes the same exchange.

    ``checked`` and ``protected`` are what ``validate_outbound`` and ``protect_outbound``
    returned: the staged protection is sent as it is when it belongs to this input; without
    them (or when the input changed) publish validates and protects itself."""
    from exchange.protocol.outbound import publish
    from exchange.protocol.staged import load_prepared, remove_staged

    node = node_for(client)
    prepared = load_prepared((protected or {}).get("staged"), (protected or {}).get("record_sha256"),
                             (checked or {}).get("validation"),
                             (checked or {}).get("source_sha256"))
    result = publish(node, _source(node, contract_id, period, source), contract_id, period, prepared=prepared)
    if prepared is not None:
        remove_staged(prepared)
    return result.to_dict()


def record_outbound(published: dict) -> dict:
    """The officer's summary line of a published exchange (what the run did, no data)."""
    return {"exchange_id": published["exchange_id"], "bucket": published["bucket"],
            "prefix": published["prefix"], "rows": published["rows"], "revision": published["revision"],
            "new": published["created_now"], "validation": "passed" if published["validation"].get("success")
            else "failed", "suppressed": suppressed_count(published["disclosure"])}


def suppressed_count(disclosure: dict) -> int:
    """Cells (aggregates) or records/values (record level) disclosure control suppressed."""
    keys = ("cellsSuppressed", "recordsSuppressed")
    return sum(int(disclosure.get(k) or 0) for k in keys)


def discover_inbound(client, partner: str) -> list[str]:
    """Prefixes of complete exchanges from ``partner`` this node has not decided on yet, in
    the sender's publishing order (the receive tasks run one at a time in that order)."""
    from exchange.protocol.freshness_check import watch_partner
    from exchange.protocol.inbound import discover, in_publish_order
    from exchange.protocol.key_pickup import pick_up_key_statements

    node = node_for(client)
    pick_up_key_statements(node, partner.upper())  # a partner's rotation or revocation, before its exchanges
    alarms = watch_partner(node, partner.upper())
    if alarms:
        log.warning("%d alarm(s) about %s's bucket (index or audit checkpoint); see the audit log and report",
                    len(alarms), partner.upper())
    return in_publish_order(node, partner.upper(), discover(node, partner.upper()))


def receive_inbound(client, partner: str, prefix: str) -> dict:
    """Verify, decrypt, re-validate and land one exchange; a bad one is quarantined and rejected."""
    from exchange.protocol.inbound import receive

    return receive(node_for(client), partner.upper(), prefix).to_dict()


def awaiting_receipt(node: Node) -> list[str]:
    """Partners that still owe a receipt for an exchange this node sent."""
    from exchange.protocol.manifest import Manifest
    from exchange.protocol.naming import MANIFEST, OUTBOUND

    found: set[str] = set()
    for manifest in node.folder(OUTBOUND).glob(f"*/{MANIFEST}"):
        if not (manifest.parent / "receipt.json").exists():
            found.update(Manifest.from_json(manifest.read_bytes(), str(manifest)).recipient_parties)
    return sorted(found)


def collect_all_receipts(client) -> dict:
    """Fetch and verify the receipts partners owe for this node's exchanges."""
    from exchange.protocol.receipts import collect_receipts

    node = node_for(client)
    statuses = {partner: [s.to_dict() for s in collect_receipts(node, partner)]
                for partner in awaiting_receipt(node)}
    found = [s for per_partner in statuses.values() for s in per_partner]
    return {"receipts": statuses, "collected": len(found),
            "invalid": sum(s["status"] == "invalid" for s in found)}


def verify_audit(client) -> dict:
    """Check this party's audit chain, against its latest local signed checkpoint when there is one."""
    from exchange.audit.log import AuditError, AuditLog, latest_local_checkpoint, verify_log

    node = node_for(client)
    log = AuditLog.for_home(node.home, node.party)
    local = latest_local_checkpoint(log)
    checkpoint = local.verified(node.identity.signing_key.public_key) if local else None
    verdict = verify_log(log.path, checkpoint)
    if not verdict.ok:
        raise AuditError(f"audit log {log.path} is damaged: {'; '.join(verdict.problems[:5])}",
                         hint="run `gcmx audit verify` and compare with the published checkpoints")
    return verdict.to_dict()


def publish_audit_checkpoint(client) -> dict:
    """Sign the audit log's head; put the checkpoint in the bucket towards each partner."""
    from exchange.audit.log import AuditLog, publish_checkpoint
    from exchange.protocol.partners import checkpoint_buckets

    node = node_for(client)
    log = AuditLog.for_home(node.home, node.party)
    buckets = checkpoint_buckets(node)
    key = publish_checkpoint(log, node.identity.signing_key, node.store, buckets)
    return {"checkpoint": key, "buckets": buckets}


def build_report(client=None) -> dict:
    """Rebuild the auditor's HTML report when the report module is installed."""
    if importlib.util.find_spec("exchange.report") is None:
        return {"report": None, "note": "exchange.report is not installed; no report built"}
    from exchange import report

    settings = load_settings()
    path = report.build_report(settings)
    return {"report": str(path)}


def to_json(value: dict) -> str:
    """Compact JSON for a log line (values are already free of secrets)."""
    return json.dumps(value, sort_keys=True, default=str)
