"""Read one party's home folder into plain dicts: every exchange, every blocked input, the audit.

Sources (layout of :mod:`exchange.protocol.node`): ``outbound/{id}/manifest.json`` and
``receipt.json``; ``inbound/{sender}/{dataset}/{period}/{id}.json`` decisions;
``landing/{sender}/{dataset}/{period}/{id}/``
``manifest.json`` and ``validation.json``; ``quarantine/{name}/reason.json``,
``validation.json`` and ``manifest.json``; the audit log. Data files (``*.parquet``) are
never opened: the report holds counts, ids and hashes, never a record value.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exchange.canonical import canonical_json
from exchange.clock import utc_now
from exchange.protocol.naming import (
    AGREEMENTS,
    INBOUND,
    KEYRING,
    KEYS,
    LANDING,
    MANIFEST,
    OUTBOUND,
    QUARANTINE,
    parse_agreement_file,
    parse_blocked_name,
)
from exchange.report import views
from exchange.report.audit_view import audit_view
from exchange.report.expectations import Suites, check_view
from exchange.report.keys_view import keys_view
from exchange.report.retention_view import retention_view


def read_json(path: Path) -> dict:
    """A JSON object from ``path``, or ``{}`` when missing or unreadable (the report says "—")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def json_files(folder: Path, *names: str) -> list[dict]:
    """``[{name, uri}]`` of the documents in ``folder`` the report links to (only those present)."""
    return [{"name": n, "uri": (folder / n).resolve().as_uri()} for n in names if (folder / n).is_file()]


def _manifest_sha256(manifest: dict) -> str | None:
    """SHA-256 of the signed manifest bytes (the canonical JSON the sender signed)."""
    return hashlib.sha256(canonical_json(manifest)).hexdigest() if manifest else None


def _agreement_signers(home: Path, contract: dict) -> list[str]:
    cid, version = views.name(contract.get("id")), views.name(contract.get("version"))
    if not cid or not version:
        return []
    named = filter(None, (parse_agreement_file(p.name) for p in (home / AGREEMENTS).glob("*")))
    return sorted(party for contract_id, signed, party in named if (contract_id, signed) == (cid, version))


def _base(manifest: dict, home: Path, eid: str, direction: str, partner: str | None) -> dict:
    contract = manifest.get("contract") if isinstance(manifest.get("contract"), dict) else {}
    plain = manifest.get("plaintext") if isinstance(manifest.get("plaintext"), dict) else {}
    cipher = manifest.get("ciphertext") if isinstance(manifest.get("ciphertext"), dict) else {}
    recipients = [r for r in manifest.get("recipients") or [] if isinstance(r, dict)]
    return {
        "id": eid,
        "anchor": f"x-{eid[:16]}",
        "direction": direction,
        "partner": partner,
        "sender": views.name(manifest.get("sender")),
        "recipients": [
            {
                "party": views.name(r.get("party")),
                "key_id": views.hexdigest(r.get("key_id")),
                "type": views.name(r.get("type")),
            }
            for r in recipients
        ],
        "dataset": views.name(manifest.get("dataset")),
        "period": views.name(manifest.get("period")),
        "revision": views.count(manifest.get("revision")),
        "sequence": views.count(manifest.get("sequence")),
        "created": views.name(manifest.get("created")),
        "rows": views.count(manifest.get("rows")),
        "bucket": views.name(manifest.get("bucket")),
        "contract": {
            "id": views.name(contract.get("id")),
            "version": views.name(contract.get("version")),
            "hash": views.hexdigest(contract.get("hash")),
            "in_force": None,
            "in_force_note": None,
            "signed_by": _agreement_signers(home, contract),
        },
        "hashes": {
            "plaintext": views.hexdigest(plain.get("sha256")),
            "plaintext_size": views.count(plain.get("size")),
            "ciphertext": views.hexdigest(cipher.get("sha256")),
            "ciphertext_size": views.count(cipher.get("size")),
            "manifest": _manifest_sha256(manifest),
            "manifest_matches_receipt": None,
        },
        "sender_key_id": views.hexdigest(manifest.get("sender_key_id")),
        "disclosure": views.disclosure_view(manifest.get("disclosure")),
        "validations": [],
        "reason": None,
        "events": [],
    }


def _first(events: list[dict], event: str, **details: str) -> dict | None:
    return next(
        (
            e
            for e in events
            if e["event"] == event and all(e["details"].get(k) == v for k, v in details.items())
        ),
        None,
    )


def outbound_exchange(home: Path, party: str, folder: Path, events: list[dict], suites: Suites = ()) -> dict:
    """One exchange this party sent, with its receipt status."""
    manifest = read_json(folder / MANIFEST)
    recipients = [r.get("party") for r in manifest.get("recipients") or [] if isinstance(r, dict)]
    item = _base(manifest, home, folder.name, "outbound", views.name(recipients[0]) if recipients else None)
    own = read_json(folder / "disclosure.json")  # the sender's full report (the manifest has the partner's view)
    if own:
        item["disclosure"] = views.disclosure_view(own)
    item["events"] = events
    item["files"] = json_files(folder, "validation.json", "disclosure.json", MANIFEST, "receipt.json")
    own_check = read_json(folder / "validation.json")  # the full report when kept, else the manifest's summary
    sender_check = own_check if isinstance(own_check.get("outcomes"), list) else manifest.get("validation")
    item["validations"] = [v for v in [check_view(sender_check, f"{party} before sending", suites)] if v]
    item["contract"].update(
        in_force=True if manifest else None, in_force_note="checked in force when published"
    )
    signed = _first(events, "key_use", purpose="sign manifest")
    item["signature"] = {
        "state": "signed" if manifest else None,
        "key_id": item["sender_key_id"],
        "audited": signed is not None,
    }
    receipt = read_json(folder / "receipt.json")
    invalid = _first(events, "receipt", direction="received", status="invalid")
    status = receipt.get("status")
    if status in ("accepted", "rejected"):
        item["status"] = "delivered" if status == "accepted" else "rejected by partner"
        item["reason"] = views.reason(receipt.get("reason"))
        partner_check = check_view(receipt.get("validation"), f"{item['partner'] or 'partner'} on receipt", suites)
        item["validations"] += [partner_check] if partner_check else []
        expected = views.hexdigest(receipt.get("manifest_sha256"))
        item["hashes"]["manifest_matches_receipt"] = (
            (expected == item["hashes"]["manifest"]) if expected else None
        )
        item["receipt"] = {"state": status, "time": views.name(receipt.get("received"))}
    elif invalid:
        item["status"], item["reason"] = "receipt invalid", invalid["details"].get("reason")
        item["receipt"] = {"state": "invalid", "time": invalid["time"]}
    else:
        item["status"], item["receipt"] = "awaiting receipt", {"state": "awaiting", "time": None}
    return item


def _inbound_partner(manifest: dict, events: list[dict]) -> str | None:
    sent = _first(events, "receipt", direction="sent")
    return views.name(manifest.get("sender")) or (sent["details"].get("to") if sent else None)


def inbound_exchange(
    home: Path, party: str, eid: str, decision: dict, events: list[dict], suites: Suites = ()
) -> dict:
    """One exchange a partner sent to this party: landed, or rejected and quarantined."""
    landed = next(iter(sorted((home / LANDING).glob(f"*/*/*/{eid}"))), None)
    quarantined = home / QUARANTINE / eid
    folder = landed if landed and (landed / MANIFEST).is_file() else quarantined
    manifest = read_json(folder / MANIFEST)
    item = _base(manifest, home, eid, "inbound", _inbound_partner(manifest, events))
    item["events"] = events
    item["files"] = json_files(folder, "validation.json", MANIFEST, "reason.json")
    rejected = _first(events, "reject")
    if rejected and not item["dataset"]:
        item["dataset"], item["period"] = (
            rejected["details"].get("dataset"),
            rejected["details"].get("period"),
        )
    state = decision.get("status") or ("landed" if landed else "rejected")
    item["status"] = "landed" if state == "landed" else "rejected"
    item["reason"] = views.reason(decision.get("reason")) or (
        rejected["details"].get("reason") if rejected else None
    )
    sender_check = check_view(manifest.get("validation"), f"{item['partner'] or 'sender'} before sending", suites)
    own_check = check_view(read_json(folder / "validation.json"), f"{party} on receipt", suites)
    item["validations"] = [v for v in (sender_check, own_check) if v]
    verified = _first(events, "verify")
    item["signature"] = {
        "state": "verified" if verified or state == "landed" else "no verification recorded",
        "key_id": item["sender_key_id"],
        "audited": verified is not None,
    }
    not_in_force = "in force" in (item["reason"] or "")
    item["contract"].update(
        in_force=False if not_in_force else (True if verified or state == "landed" else None),
        in_force_note="not held in force by this party" if not_in_force else "checked in force on receipt",
    )
    sent = _first(events, "receipt", direction="sent")
    item["receipt"] = {
        "state": f"sent: {sent['details'].get('status', '—')}" if sent else "not sent",
        "time": sent["time"] if sent else None,
    }
    return item


def blocked_input(home: Path, party: str, folder: Path, suites: Suites = ()) -> dict | None:
    """An outbound input quarantined before sending (failed validation or disclosure control)."""
    blocked = parse_blocked_name(folder.name)
    if not blocked:
        return None
    why = read_json(folder / "reason.json")
    check = check_view(read_json(folder / "validation.json"), f"{party} before sending", suites)
    return {
        "id": folder.name,
        "anchor": f"q-{blocked.sha12}",
        "direction": "outbound",
        "partner": blocked.recipient,
        "dataset": blocked.dataset,
        "period": blocked.period,
        "contract_id": blocked.contract_id,
        "reason": views.reason(why.get("reason")),
        "time": views.name(why.get("time")),
        "validations": [check] if check else [],
        "files": json_files(folder, "validation.json", "reason.json"),
        "status": "not sent",
    }


def _events_by_exchange(entries: Iterable[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for entry in entries:
        eid = entry["details"].get("exchange_id")
        if eid:
            grouped[eid].append(entry)
    return grouped


def alarms(entries: Iterable[dict]) -> list[dict]:
    """Every ``alarm`` audit entry (see :mod:`exchange.audit.alarms`): tampering seen in a bucket."""
    return [
        {
            "time": e["time"],
            "kind": e["details"].get("kind") or "?",
            "partner": e["details"].get("partner"),
            "exchange_id": e["details"].get("exchange_id"),
            "reason": e["details"].get("reason"),
        }
        for e in entries
        if e["event"] == "alarm"
    ]


def gather(home: Path, party: str, key_dirs: Iterable[Path] = (), suites: Suites = ()) -> dict[str, Any]:
    """Everything the report shows for ``party`` whose node lives in ``home``.

    ``key_dirs`` are searched for the party's minisign public key to verify its audit
    checkpoint (default: ``{home}/keyring`` and ``{home}/keys``); ``suites`` for the
    expectation suites whose parameters the report shows (a suite counts only when its
    contract has the hash that was validated).
    """
    home = Path(home)
    folders = [home / name for name in (OUTBOUND, INBOUND, LANDING, QUARANTINE)]
    active = any(f.is_dir() and any(f.iterdir()) for f in folders)
    audit = audit_view(home, party, list(key_dirs) or [home / KEYRING, home / KEYS], expect_log=active)
    events = _events_by_exchange(audit["entries"])
    exchanges = [
        outbound_exchange(home, party, folder, events.get(folder.name, []), suites)
        for folder in sorted((home / OUTBOUND).glob("*"))
        if folder.is_dir() and (folder / MANIFEST).is_file()
    ]
    decisions: dict[str, dict] = {}
    for path in sorted((home / INBOUND).rglob("*.json")):  # a landed exchange wins over a planted copy
        if decisions.get(path.stem, {}).get("status") != "landed":
            decisions[path.stem] = read_json(path)
    for landed in (home / LANDING).glob(f"*/*/*/*/{MANIFEST}"):
        decisions.setdefault(landed.parent.name, {"status": "landed"})
    exchanges += [
        inbound_exchange(home, party, eid, decision, events.get(eid, []), suites)
        for eid, decision in sorted(decisions.items())
    ]
    exchanges.sort(
        key=lambda x: (x["period"] or "", x["dataset"] or "", x["direction"], x["sequence"] or 0, x["id"])
    )
    blocked = [
        b
        for b in (
            blocked_input(home, party, f, suites)
            for f in sorted((home / QUARANTINE).glob("*"))
            if f.is_dir() and f.name not in decisions
        )
        if b
    ]
    return {
        "party": party,
        "home": str(home),
        "generated": utc_now(),
        "exchanges": exchanges,
        "blocked": blocked,
        "alarms": alarms(audit["entries"]),
        "audit": audit,
        "retention": retention_view(home),  # issue 15
        "keys": keys_view(home, list(key_dirs) or [home / KEYRING, home / KEYS], audit["entries"]),
    }
