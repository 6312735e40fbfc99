"""A KHM node home with every kind of exchange, built from the protocol's own pieces.

Manifests are real :class:`exchange.protocol.manifest.Manifest` documents, receipts come from
:meth:`exchange.protocol.receipts.Receipt.answer`, the audit log is a real hash-chained
:class:`exchange.audit.log.AuditLog` with a real signed checkpoint; validation and disclosure
documents have the exact shapes ``ValidationReport`` and ``DisclosureReport`` write.
Data files hold children's data with distinctive synthetic values (``SECRET_*``) that must
never reach the report; some documents even carry such values in fields the report must drop.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from exchange.atomic import write_json_atomic
from exchange.audit.log import AuditLog, Checkpoint, make_checkpoint
from exchange.contract.model import REPOSITORY_CONTRACTS, load_contract, read_suite
from exchange.crypto.keys import generate_party_keys, load_identity
from exchange.errors import GcmxError
from exchange.protocol.decision import Decision
from exchange.protocol.manifest import ContractRef, Digest, Manifest, Recipient
from exchange.protocol.receipts import Receipt
from exchange.protocol.summaries import DisclosureSummary, ValidationSummary

PARTY, PARTNER = "KHM", "THA"
SECRET_TEXT = ("PSEUDO-ZQX-4471-CHILD", "Sokha-Synthetic-Child", "KH-99-SECRET-VILLAGE")
SECRET_COUNTS = (918273, 564738, 777331)
HASH = "ab" * 32  # contracts not in the repository (their suites are not held: no parameters shown)
MISSING_COLUMN, EXTRA_COLUMN = "documentation_status", "passport_no"
CHILDREN_COLUMNS = ["period", "ref_area", "counterpart_area", "care_situation", "age_group", "sex", "school_enrolment",
                    "documentation_status", "children", "OBS_STATUS", "CONF_STATUS"]


def contract_hash(contract_id: str) -> str:
    """The repository contract's real hash (so the report joins its suite), else ``HASH``."""
    try:
        return load_contract(contract_id, REPOSITORY_CONTRACTS).hash
    except GcmxError:  # a contract the repository lacks
        return HASH


def suite_expectations(contract_id: str) -> list[dict]:
    """The repository suite's expectations of ``contract_id`` ([] when the repository lacks it)."""
    try:
        contract = load_contract(contract_id, REPOSITORY_CONTRACTS)
    except GcmxError:
        return []
    return read_suite(contract.suite_path, contract.path)["expectations"]


def suite_size(contract_id: str) -> int:
    """How many expectations the repository's suite of ``contract_id`` has (45 when not held)."""
    return len(suite_expectations(contract_id)) or 45


def _passing(contract_id: str, rows: int) -> list[dict]:
    """An outcome that held for every expectation of the suite, as ``ValidationReport.to_dict`` has it."""
    out = []
    for expectation in suite_expectations(contract_id):
        kind, column = expectation["type"], expectation["kwargs"].get("column")
        per_row = kind.startswith("expect_column_values_")
        counts = {"element_count": rows, "unexpected_count": 0, "unexpected_percent": 0.0} if per_row else {}
        out.append({"expectation": kind, **({"column": column} if column else {}), "success": True, "counts": counts})
    return out


def children_table() -> pa.Table:
    """A children's table whose values appear nowhere but in Parquet files."""
    return pa.table(
        {
            "period": ["2026-09"] * 3,
            "care_situation": ["UNACCOMPANIED", "SEPARATED", "ACCOMPANIED"],
            "age_group": ["Y10T14", "Y15T17", "Y5T9"],
            "sex": ["F", "M", "F"],
            "person_pseudonym": list(SECRET_TEXT),
            "children": list(SECRET_COUNTS),
        }
    )


def validation_summary(contract_id: str, rows: int, failed: list[dict] | None = None) -> dict:
    """The shape of ``ValidationReport.summary()``."""
    return {
        "contract_id": contract_id,
        "contract_version": "1.0.0",
        "contract_hash": contract_hash(contract_id),
        "success": not failed,
        "row_count": rows,
        "evaluated": suite_size(contract_id),
        "failed": failed or [],
    }


def validation_report(contract_id: str, rows: int, failing: bool) -> dict:
    """The shape of ``ValidationReport.to_dict()``, with value-bearing fields the report must drop."""
    columns = next((e["kwargs"]["column_set"] for e in suite_expectations(contract_id)
                    if e["type"] == "expect_table_columns_to_match_set"), CHILDREN_COLUMNS)
    if failing:
        columns = [c for c in columns if c != MISSING_COLUMN] + [EXTRA_COLUMN]
    outcomes = [
        {
            "expectation": "expect_table_columns_to_match_set",
            "success": not failing,
            "counts": {},
            "observed": columns,
        },
        {
            "expectation": "expect_table_row_count_to_be_between",
            "success": True,
            "counts": {},
            "observed": rows,
        },
        {
            "expectation": "expect_column_values_to_not_be_null",
            "column": "period",
            "success": True,
            "counts": {"element_count": rows, "unexpected_count": 0, "unexpected_percent": 0.0},
        },
    ]
    failures = []
    if failing:
        failures = [
            {
                "expectation": "expect_column_values_to_be_in_set",
                "column": "care_situation",
                "success": False,
                "counts": {"element_count": rows, "unexpected_count": 10, "unexpected_percent": 1.85},
                "unexpected_sample": [SECRET_TEXT[1]],
                "observed": SECRET_TEXT[2],
            },
            {
                "expectation": "expect_compound_columns_to_be_unique",
                "success": False,
                "counts": {"element_count": rows, "unexpected_count": 2, "unexpected_percent": 0.37},
            },
            {
                "expectation": "expect_column_values_to_be_between",
                "column": "children",
                "success": False,
                "counts": {},
                "error": f"value {SECRET_COUNTS[2]} is not comparable",
            },
        ]
    specific = {(o["expectation"], o.get("column")): o for o in outcomes + failures}
    outcomes = [specific.pop((o["expectation"], o.get("column")), o) for o in _passing(contract_id, rows)]
    outcomes += list(specific.values())  # the ones the suite does not have (or no suite is held)
    return {
        "contract_id": contract_id,
        "contract_version": "1.0.0",
        "contract_hash": contract_hash(contract_id),
        "dataset": contract_id.split(".")[0],
        "classification": "children",
        "file": "data.parquet",
        "row_count": rows,
        "outcomes": outcomes,
        "added_columns": [],
        "success": not failing,
    }


AGGREGATE_DISCLOSURE = {
    "method": "aggregate",
    "cellsTotal": 540,
    "cellsPrimarySuppressed": 223,
    "cellsSecondarySuppressed": 26,
    "rules": {
        "method": "aggregate",
        "countColumn": "children",
        "dimensions": ["care_situation", "sex"],
        "totalCode": "_T",
        "minimumCellSize": 10,
        "protectionLevels": {"lower": 3, "upper": 5},
    },
    "tables": [
        {
            "key": {"period": "2026-08"},
            "cells": 540,
            "primarySuppressed": 223,
            "secondarySuppressed": 26,
            "suppressedByDimension": {
                "care_situation": {"ACC": 60, "UNACC": 100, "SEP": 89},
                "sex": {"F": 120, "M": 100, "_T": 29},
            },
            "minimumSlack": 3.0,
            "suppressionRounds": 2,
        }
    ],
    "audit": {
        "method": "exact-linear-programming",
        "ok": True,
        "suppressedCells": 249,
        "provenCells": 249,
        "failedCells": 0,
        "publishedBelowMinimum": 0,
    },
}
FULL_DISCLOSURE = {}  # method -> the sender's own report (outbound/{id}/disclosure.json)
RECORDS_DISCLOSURE = {
    "method": "records",
    "recordsTotal": 1200,
    "recordsGeneralised": 96,
    "recordsSuppressed": 4,
    "valuesSuppressed": 11,
    "valuesSuppressedByColumn": {"age_band": 5, "sex": 2, "province": 4},
    "kReached": 5,
    "informationLoss": 0.083,
    "columnsPseudonymised": ["person_id"],
    "rules": {
        "method": "records",
        "quasiIdentifiers": ["age_band", "sex", "province"],
        "k": 5,
        "pseudonymise": ["person_id"],
        "hierarchies": {"province": [{"KH-1": "KH-NW"}]},
    },
}


FULL_DISCLOSURE.update(aggregate=AGGREGATE_DISCLOSURE, records=RECORDS_DISCLOSURE)


def partner_view(disclosure: dict) -> dict:
    """The partner's view of a full disclosure report (``DisclosureReport.for_partner``)."""
    if disclosure["method"] != "aggregate":
        return {k: v for k, v in disclosure.items() if k != "valuesSuppressedByColumn"}
    hidden = ("cellsPrimarySuppressed", "cellsSecondarySuppressed", "tables")
    view = {k: v for k, v in disclosure.items() if k not in hidden}
    view["cellsSuppressed"] = disclosure["cellsPrimarySuppressed"] + disclosure["cellsSecondarySuppressed"]
    view["audit"] = {"method": disclosure["audit"]["method"], "solver": "HiGHS", "ok": disclosure["audit"]["ok"],
                     "protectionLevels": disclosure["rules"]["protectionLevels"]}
    return view


def make_manifest(
    sender: str,
    recipient: str,
    contract_id: str,
    period: str,
    revision: int,
    sequence: int,
    rows: int,
    disclosure: dict,
    validation: dict,
) -> Manifest:
    """A manifest as ``exchange.protocol.outbound.publish`` writes it."""
    dataset = contract_id.split(".")[0]
    eid = hashlib.sha256(f"{sender}{contract_id}{period}{revision}".encode()).hexdigest()[:32]
    return Manifest(
        exchange_id=eid,
        bucket=f"{sender.lower()}-to-{recipient.lower()}",
        sender=sender,
        recipients=(Recipient(recipient, "0123456789abcdef", "mlkem768x25519"),),
        dataset=dataset,
        period=period,
        revision=revision,
        sequence=sequence,
        created=f"{period}-28T09:15:02Z",
        contract=ContractRef(contract_id, "1.0.0", contract_hash(contract_id)),
        rows=rows,
        plaintext=Digest(hashlib.sha256(eid.encode()).hexdigest(), 48_213),
        ciphertext=Digest(hashlib.sha256(eid.encode() + b"c").hexdigest(), 48_501),
        validation=ValidationSummary.of(validation),
        disclosure=DisclosureSummary.of(partner_view(disclosure)),
        sender_key_id="E2C6D4A1B3F50718",
    )


def _outbound(
    home: Path,
    log: AuditLog,
    manifest: Manifest,
    answer: str | None,
    reason: str = "",
    partner_validation: dict | None = None,
) -> None:
    folder = home / "outbound" / manifest.exchange_id
    log.append(
        "key_use", purpose="sign manifest", exchange_id=manifest.exchange_id, key_id=manifest.sender_key_id
    )
    write_json_atomic(folder / "manifest.json", manifest.to_dict())
    write_json_atomic(folder / "disclosure.json", FULL_DISCLOSURE[manifest.disclosure.method])
    log.append(
        "publish",
        exchange_id=manifest.exchange_id,
        contract=manifest.contract.id,
        dataset=manifest.dataset,
        period=manifest.period,
        recipient=PARTNER,
        revision=manifest.revision,
        sequence=manifest.sequence,
        rows=manifest.rows,
        ciphertext_sha256=manifest.ciphertext.sha256,
        bucket=manifest.bucket,
    )
    if answer:
        doc = Receipt.answer(
            manifest.exchange_id,
            manifest.dataset,
            manifest.period,
            PARTY,
            PARTNER,
            answer == "accepted",
            reason,
            manifest.validation,
            manifest.sha256,
        ).to_dict()
        if partner_validation:  # as the partner wrote it, extra fields and all: the report must cope
            doc["validation"] = partner_validation
        write_json_atomic(folder / "receipt.json", doc)
        log.append(
            "receipt",
            direction="received",
            exchange_id=manifest.exchange_id,
            status=doc["status"],
            reason=reason,
            **{"from": PARTNER},
        )


def _inbound(
    home: Path, log: AuditLog, manifest: Manifest, landed: bool, reason: str = "", report: dict | None = None
) -> None:
    eid = manifest.exchange_id
    body = manifest.to_json()
    log.append("fetch", exchange_id=eid, bucket=manifest.bucket, prefix=manifest.prefix)
    log.append(
        "verify",
        exchange_id=eid,
        sender=PARTNER,
        key_id=manifest.sender_key_id,
        contract=manifest.contract.id,
        version="1.0.0",
    )
    log.append("key_use", purpose="decrypt", exchange_id=eid)
    folder = home / "landing" / PARTNER / manifest.prefix if landed else home / "quarantine" / eid
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes(body)
    pq.write_table(children_table(), folder / "data.parquet")
    write_json_atomic(
        folder / "validation.json",
        report or validation_report(manifest.contract.id, manifest.rows, not landed),
    )
    if landed:
        log.append(
            "land",
            exchange_id=eid,
            dataset=manifest.dataset,
            period=manifest.period,
            rows=manifest.rows,
            path=str(folder),
        )
        write_json_atomic(
            home / "inbound" / PARTNER / f"{manifest.prefix}.json",
            Decision("landed", "x", None, path=str(folder)).to_dict(),
        )
    else:
        write_json_atomic(folder / "reason.json", {"reason": reason, "time": "2026-10-02T08:00:00Z"})
        log.append(
            "reject",
            exchange_id=eid,
            dataset=manifest.dataset,
            period=manifest.period,
            reason=reason,
            folder=str(folder),
        )
        write_json_atomic(
            home / "inbound" / PARTNER / f"{manifest.prefix}.json",
            Decision("rejected", "x", None, reason=reason, quarantine=str(folder)).to_dict(),
        )
    log.append(
        "receipt", direction="sent", exchange_id=eid, status="accepted" if landed else "rejected", to=PARTNER
    )


def build_home(base: Path) -> dict:
    """Write KHM's home under ``base``; return ``{home, exchanges: {name: id}, blocked}``."""
    home = base / PARTY
    generate_party_keys(PARTY, home / "keys", classic=True)
    log = AuditLog.for_home(home, PARTY)
    agreements = home / "agreements"
    agreements.mkdir(parents=True)
    for contract in (
        "workers_deployed.khm-tha",
        "children_on_the_move.khm-tha",
        "workers_registered.tha-khm",
    ):
        for party in (PARTY, PARTNER):
            (agreements / f"{contract}@1.0.0.{party}.minisig").write_text("signature\n")
    ids = {}
    sent = make_manifest(
        PARTY,
        PARTNER,
        "workers_deployed.khm-tha",
        "2026-08",
        1,
        1,
        1_234_567,
        AGGREGATE_DISCLOSURE,
        validation_summary("workers_deployed.khm-tha", 1_234_567),
    )
    _outbound(home, log, sent, "accepted")
    ids["delivered"] = sent.exchange_id
    failed = [
        {
            "expectation": "expect_column_values_to_be_in_set(care_situation)",
            "unexpected_count": 10,
            "partial_unexpected_list": [SECRET_TEXT[0]],
        }
    ]
    refused = make_manifest(
        PARTY,
        PARTNER,
        "children_on_the_move.khm-tha",
        "2026-08",
        1,
        1,
        540,
        AGGREGATE_DISCLOSURE,
        validation_summary("children_on_the_move.khm-tha", 540),
    )
    _outbound(
        home,
        log,
        refused,
        "rejected",
        "exchange fails contract children_on_the_move.khm-tha",
        validation_summary("children_on_the_move.khm-tha", 540, failed),
    )
    ids["refused"] = refused.exchange_id
    waiting = make_manifest(
        PARTY,
        PARTNER,
        "workers_deployed.khm-tha",
        "2026-09",
        1,
        2,
        9_001,
        AGGREGATE_DISCLOSURE,
        validation_summary("workers_deployed.khm-tha", 9_001),
    )
    _outbound(home, log, waiting, None)
    ids["awaiting"] = waiting.exchange_id
    landed = make_manifest(
        PARTNER,
        PARTY,
        "children_on_the_move.tha-khm",
        "2026-09",
        1,
        1,
        3,
        AGGREGATE_DISCLOSURE,
        validation_summary("children_on_the_move.tha-khm", 3),
    )
    _inbound(home, log, landed, True)
    ids["landed"] = landed.exchange_id
    returnees = make_manifest(
        PARTNER,
        PARTY,
        "returnees.tha-khm",
        "2026-09",
        1,
        1,
        1_200,
        RECORDS_DISCLOSURE,
        validation_summary("returnees.tha-khm", 1_200),
    )
    _inbound(home, log, returnees, False, "exchange fails contract returnees.tha-khm: 3 expectations failed")
    ids["rejected"] = returnees.exchange_id
    unsigned = "f0" * 16
    reason = "s3://tha-to-khm/child_birth_registrations/2026-09/…/manifest.json: signature does not verify"
    log.append(
        "fetch",
        exchange_id=unsigned,
        bucket="tha-to-khm",
        prefix=f"child_birth_registrations/2026-09/{unsigned}",
    )
    write_json_atomic(
        home / "quarantine" / unsigned / "reason.json", {"reason": reason, "time": "2026-10-02T08:00:00Z"}
    )
    log.append(
        "reject", exchange_id=unsigned, dataset="child_birth_registrations", period="2026-09", reason=reason
    )
    write_json_atomic(
        home / "inbound" / PARTNER / "child_birth_registrations" / "2026-09" / f"{unsigned}.json",
        {"status": "rejected", "reason": reason, "time": "x"},
    )
    log.append("receipt", direction="sent", exchange_id=unsigned, status="rejected", to=PARTNER)
    ids["unsigned"] = unsigned
    blocked = home / "quarantine" / f"children_on_the_move.khm-tha-2026-09-{'c0ffee' * 2}"
    blocked.mkdir(parents=True)
    pq.write_table(children_table(), blocked / "input.parquet")
    write_json_atomic(
        blocked / "validation.json", validation_report("children_on_the_move.khm-tha", 540, True)
    )
    write_json_atomic(
        blocked / "reason.json", {"reason": "failed validation", "time": "2026-10-01T07:00:00Z"}
    )
    log.append(
        "quarantine",
        contract="children_on_the_move.khm-tha",
        period="2026-09",
        reason="failed validation",
        failed=[{"expectation": "expect_column_values_to_be_in_set(care_situation)", "unexpected_count": 10}],
        folder=str(blocked),
    )
    data, signature = make_checkpoint(log, load_identity(PARTY, home / "keys").signing_key)
    (log.checkpoints_dir).mkdir(parents=True)
    (log.checkpoints_dir / "latest.json").write_bytes(data)
    (log.checkpoints_dir / "latest.json.minisig").write_bytes(signature)
    log.append(
        "checkpoint",
        checkpoint_seq=Checkpoint.from_json(data).seq,
        head=Checkpoint.from_json(data).head,
        buckets=["khm-to-tha"],
    )
    return {
        "home": home,
        "exchanges": ids,
        "blocked": blocked.name,
        "manifests": {m.exchange_id: m.to_dict() for m in (sent, refused, waiting, landed, returnees)},
        "manifest_sha256": {sent.exchange_id: sent.sha256},
    }
