"""The report's keys section: every key with its window, rotations and revocations, and each kept
signature checked again with the key history (so an exchange signed before a rotation still shows
"valid", and anything signed by a key later revoked is flagged).

Signatures checked: each landed exchange's manifest (``landing/.../manifest.json.minisig``, with
the sender's keys) and each receipt collected for an exchange this party sent
(``outbound/{id}/receipt.json.minisig``, with the recipient's keys). Only ids, times and verdicts
are shown, never a key's secret half.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from exchange.canonical import canonical_json
from exchange.crypto.key_history import KeyHistory, TrustedKeys, load_history
from exchange.errors import GcmxError
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import LANDING, MANIFEST, OUTBOUND, SIGNATURE

KEY_EVENTS = ("key_rotated", "key_added", "key_revoked", "key_statement_rejected")


def _parties(keyring: Path) -> list[str]:
    names = {p.name.split(".", 1)[0] for p in keyring.glob("*.minisign.pub")}
    names |= {p.name.split(".", 1)[0] for p in keyring.glob("*.keys.json")}
    return sorted(n for n in names if len(n) == 3 and n.isalpha() and n.isupper())


def _histories(keyring: Path) -> dict[str, KeyHistory | str]:
    found: dict[str, KeyHistory | str] = {}
    for party in _parties(keyring):
        try:
            found[party] = load_history(party, keyring)
        except GcmxError as exc:
            found[party] = exc.message
    return found


def _state(record) -> str:
    if record.revoked_at:
        return "revoked"
    return "current" if record.current else "retired"


def _check(histories: dict, party: str, data: bytes, signature: bytes, source: str, signed_at: str | None) -> dict:
    """The verdict on one kept signature: valid / valid (key revoked since) / invalid."""
    history = histories.get(party)
    if not isinstance(history, KeyHistory):
        return {"status": "invalid", "key_id": None, "note": f"no key history of {party} in the keyring"}
    try:
        comment, signer = TrustedKeys(history).verify_signer(data, signature, source)
    except GcmxError as exc:
        return {"status": "invalid", "key_id": None, "note": exc.message}
    refusal = signer.refusal(signed_at) if signed_at else None
    if refusal:
        return {"status": "invalid", "key_id": signer.key_id, "note": refusal, "comment": comment}
    note = f"key revoked since, at {signer.revoked_at} ({signer.reason})" if signer.revoked_at else ""
    return {"status": "valid", "key_id": signer.key_id, "note": note, "state": _state(signer)}


def _landed(home: Path, histories: dict) -> Iterable[dict]:
    for path in sorted((home / LANDING).glob(f"*/*/*/*/{MANIFEST}")):
        signature = path.with_name(SIGNATURE)
        if not signature.is_file():
            continue
        sender, eid = path.parts[-5], path.parent.name
        body = path.read_bytes()
        try:
            created = Manifest.from_json(body, str(path)).created
        except GcmxError:
            created = None
        verdict = _check(histories, sender, body, signature.read_bytes(), str(signature), created)
        yield {"what": "manifest", "exchange_id": eid, "signer": sender, "time": created, **verdict}


def _receipts(home: Path, histories: dict) -> Iterable[dict]:
    for path in sorted((home / OUTBOUND).glob("*/receipt.json")):
        signature = path.with_name("receipt.json.minisig")
        if not signature.is_file():
            continue
        try:
            receipt = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(receipt, dict):
            continue
        receiver = str(receipt.get("receiver", ""))
        verdict = _check(histories, receiver, canonical_json(receipt), signature.read_bytes(), str(signature),
                         None)
        yield {"what": "receipt", "exchange_id": path.parent.name, "signer": receiver,
               "time": receipt.get("received"), **verdict}


def _event(entry: dict) -> dict:
    old, new = entry.get("old_key_id") or entry.get("key_id") or "", entry.get("new_key_id") or ""
    return {"time": entry.get("time"), "event": entry.get("event"), "of": entry.get("of"),
            "key_ids": f"{old} → {new}" if new else old, "reason": entry.get("reason")}


def keys_view(home: Path, key_dirs: Iterable[Path], entries: Iterable[dict]) -> dict:
    """The keys section of the report of the node at ``home`` (keyring: the first of ``key_dirs``)."""
    home = Path(home)
    dirs = list(key_dirs)
    keyring = dirs[0] if dirs else home / "keyring"
    histories = _histories(keyring)
    parties = []
    for party, history in histories.items():
        if isinstance(history, str):
            parties.append({"party": party, "problem": history, "records": []})
            continue
        parties.append({"party": party, "problem": None, "records": [
            {"kind": k.kind, "key_id": k.key_id, "valid_from": k.valid_from or None,
             "valid_until": k.valid_until or None, "revoked_at": k.revoked_at or None, "reason": k.reason or None,
             "state": _state(k)} for k in history.keys]})
    signatures = [*_landed(home, histories), *_receipts(home, histories)]
    return {
        "parties": parties,
        "events": [_event(e) for e in entries if e.get("event") in KEY_EVENTS],
        "signatures": signatures,
        "by_revoked_keys": [s for s in signatures if "revoked" in (s.get("note") or "")],
    }
