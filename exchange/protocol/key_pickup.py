"""A partner's key statements, picked up on each pull and applied to the keyring.

Reads ``keys/`` of the partner's bucket towards this party: each rotation and revocation
statement and its signatures, size-bounded (:mod:`exchange.protocol.limits`) and parsed strictly,
then judged by :mod:`exchange.protocol.key_rules` against the keys this node already trusts.
Rotations go first, then revocations, again until nothing changes (a revocation may name the
successor of a rotation that only then applies). An accepted statement updates
``{PARTNER}.keys.json`` and the ``.pub`` files in the keyring, is kept in
``statements/{PARTNER}/`` and audited (``key_added`` / ``key_revoked``); a refused one is audited
(``key_statement_rejected``) and raised as an alarm (``key-statement-invalid``), once per content,
and judged again on later pulls (a revocation naming it as successor may make it apply).

Every statement, the bucket's and those kept in ``statements/{PARTNER}/``, is judged again on
each pull (one already applied changes nothing): the keyring's ``keys.json`` is the only record
of what applied, so a lost or restored-from-backup ``keys.json`` gets every rotation and
revocation back, even one a bucket-key holder has since deleted from the bucket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from exchange.audit.alarms import raise_alarm
from exchange.audit.log import AuditLog, defused
from exchange.clock import utc_now
from exchange.crypto.key_history import KeyHistory, load_history, save_history
from exchange.errors import NotFound, ObjectTooLarge, ProtocolError, SignatureError, TerminalError
from exchange.protocol.key_rotation import keep_statement, statements_dir
from exchange.protocol.key_rules import already_applied, apply_revocation, apply_rotation
from exchange.protocol.key_statements import Revocation, Rotation
from exchange.protocol.limits import SIGNATURE_MAX, STATEMENT_MAX
from exchange.protocol.naming import (
    KEY_STATEMENTS,
    bucket_name,
    new_signature_key,
    parse_revocation_key,
    parse_rotation_key,
    revocation_key,
    signature_key,
)
from exchange.protocol.node import Node

KEY_ADDED = "key_added"  # audit: a partner's new key entered the keyring (a verified rotation)
KEY_REVOKED = "key_revoked"  # audit: a partner's key was revoked (a verified revocation)
KEY_STATEMENT_REJECTED = "key_statement_rejected"  # audit: a statement that does not hold
STATEMENTS_MAX = 256  # statements read per pull: a planted flood cannot stall the pull
LISTED_MAX = 10_000  # keys listed under keys/ per pull
_REFUSED = ".refused"  # fingerprints of statements refused and alarmed once
_REFUSED_LISTED = ".refused-listed"  # their keys and ETags as listed: read after the statements not seen before


@dataclass(frozen=True)
class Statement:
    """One statement read from the bucket: its key, bytes and signatures, and what it says."""

    key: str
    body: bytes
    signatures: tuple[bytes, ...]
    parsed: Rotation | Revocation | None
    unreadable: str = ""
    listed: str = ""  # the objects' keys and ETags as listed: what a refusal remembers

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(b"\n".join((self.key.encode(), self.body, *self.signatures))).hexdigest()


def _read(node: Node, bucket: str, key: str, names: tuple[str, ...], listed: str) -> Statement | None:
    where = f"s3://{bucket}/{key}"
    try:
        body = node.store.get_bytes(bucket, key, STATEMENT_MAX)
        signatures = tuple(node.store.get_bytes(bucket, name, SIGNATURE_MAX) for name in names)
    except NotFound:
        return None  # a signature not written yet: read on a later pull
    except ObjectTooLarge as exc:
        return Statement(key, b"", (), None, exc.message, listed)
    try:
        parsed = (Rotation if parse_rotation_key(key) else Revocation).from_json(body, where)
    except ProtocolError as exc:
        return Statement(key, body, signatures, None, exc.message, listed)
    return Statement(key, body, signatures, parsed, listed=listed)


def _named_key(key: str) -> str:
    """The key id a statement's object key names as the one it acts on (rotation: the old key)."""
    rotation = parse_rotation_key(key)
    return (rotation[0] if rotation else parse_revocation_key(key) or "").upper()


def read_statements(node: Node, partner: str, history: KeyHistory,
                    refused: frozenset[str] = frozenset()) -> list[Statement]:
    """The partner's statements in its bucket towards this node (bounded reads, strict parsing).

    The revocation of each key of ``history`` not yet revoked is always read, by its one name
    (listed or not: neither a flood nor junk filling the listing can hide it). Of the other
    statements at most ``STATEMENTS_MAX`` are read: those not ``refused`` before as listed (key
    and ETags: a statement rewritten since counts as new) first, those acting on a key of
    ``history`` first among them. So statements planted with a leaked bucket key delay a
    genuine rotation by a pull per ``STATEMENTS_MAX`` of them and raise a
    ``key-statements-flooded`` alarm; they cannot hide a revocation. (Junk filling the whole
    listing, past ``LISTED_MAX`` objects, can hold a rotation back as long as it stays: alarmed.)"""
    bucket = bucket_name(partner, node.party)
    tags: dict[str, str] = {}
    for key, tag in node.store.list_tagged(bucket, f"{KEY_STATEMENTS}/"):
        if len(tags) >= LISTED_MAX:
            _flooded(node, partner, bucket, f"more than {LISTED_MAX} objects under {KEY_STATEMENTS}/")
            break
        tags[key] = tag
    revocations = {revocation_key(k.key_id) for k in history.keys if not k.revoked_at}
    known = {k.key_id.upper() for k in history.keys}
    candidates = []
    for key in tags:
        if parse_rotation_key(key):
            names = (signature_key(key), new_signature_key(key))
        elif parse_revocation_key(key):
            names = (signature_key(key),)
        else:
            continue
        if all(n in tags for n in names):
            listed = " ".join(f"{n}={tags[n]}" for n in (key, *names))
            if key not in revocations:
                candidates.append((listed in refused, _named_key(key) not in known, key, names, listed))
    candidates.sort()
    if len(candidates) > STATEMENTS_MAX:
        _flooded(node, partner, bucket, f"{len(candidates)} statements, {STATEMENTS_MAX} read per pull")
    found = []
    chosen = [(key, (signature_key(key),), "") for key in sorted(revocations)]  # by name, listed or not
    for key, names, listed in [*chosen, *(c[2:] for c in candidates[:STATEMENTS_MAX])]:
        if statement := _read(node, bucket, key, names, listed):
            found.append(statement)
    return found


def _flooded(node: Node, partner: str, bucket: str, what: str) -> None:
    raise_alarm(node, "key-statements-flooded", partner,
                f"s3://{bucket}/{KEY_STATEMENTS}/ holds {what}: far more than {partner} ever writes; "
                "someone with the bucket key may have planted them (the revocations of known keys are "
                "still read; the rest over several pulls)", bucket=bucket)


def kept_statements(node: Node, partner: str) -> list[Statement]:
    """The partner's statements this node applied before, kept in ``statements/{PARTNER}/``
    (judged again like the bucket's: they are read from a local folder, bounded all the same)."""
    objects = {}
    for path in sorted(statements_dir(node.settings.keyring_dir, partner).glob("*")):
        if path.is_file() and not path.name.startswith(".") and path.stat().st_size <= STATEMENT_MAX:
            objects[f"{KEY_STATEMENTS}/{path.name}"] = path.read_bytes()
    found = []
    for key, body in objects.items():
        names = ((signature_key(key), new_signature_key(key)) if parse_rotation_key(key)
                 else (signature_key(key),) if parse_revocation_key(key) else None)
        if names is None or not all(n in objects for n in names):
            continue
        try:
            parsed = (Rotation if parse_rotation_key(key) else Revocation).from_json(body, str(key))
        except ProtocolError:
            continue  # only statements that applied are kept; a damaged copy is judged from the bucket
        found.append(Statement(key, body, tuple(objects[n] for n in names), parsed))
    return found


def _refused_file(node: Node, partner: str):
    folder = statements_dir(node.settings.keyring_dir, partner)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / _REFUSED


def _apply(history: KeyHistory, statement: Statement, where: str) -> KeyHistory:
    if statement.unreadable:
        raise ProtocolError(f"{where}: {statement.unreadable}", hint="refused")
    if isinstance(statement.parsed, Rotation):
        if already_applied(history, statement.parsed):
            return history
        return apply_rotation(history, statement.parsed, *statement.signatures, where, utc_now())
    return apply_revocation(history, statement.parsed, statement.signatures[0], where)


def pick_up_key_statements(node: Node, partner: str) -> list[str]:
    """Apply the partner's new key statements to the keyring; the keys of those applied."""
    refused_file = _refused_file(node, partner)
    refused = set(refused_file.read_text().split()) if refused_file.exists() else set()
    history = load_history(partner, node.settings.keyring_dir)
    pending = {s.fingerprint: s for s in (*kept_statements(node, partner),
                                          *read_statements(node, partner, history, _refused_listed(node, partner)))}
    pending = list(pending.values())
    if not pending:
        return []
    pending.sort(key=lambda s: (not isinstance(s.parsed, Rotation), s.key))
    bucket = bucket_name(partner, node.party)
    applied, refusals = [], {}
    audit = AuditLog.for_home(node.home, node.party)
    progress = True
    while progress and pending:
        progress = False
        for statement in list(pending):
            where = f"s3://{bucket}/{statement.key}"
            try:
                updated = _apply(history, statement, where)
            except TerminalError as exc:
                refusals[statement.fingerprint] = exc
                continue
            pending.remove(statement)
            refusals.pop(statement.fingerprint, None)
            progress = True
            if updated != history:
                history = updated
                save_history(history, node.settings.keyring_dir)
                keep_statement(node.settings.keyring_dir, partner,
                               dict(zip(_names(statement), (statement.body, *statement.signatures), strict=True)))
                _audit_applied(audit, partner, statement)
                applied.append(statement.key)
    with refused_file.open("a") as out, refused_file.with_name(_REFUSED_LISTED).open("a") as listed:
        for statement in pending:
            if statement.fingerprint not in refused:
                _refused(node, partner, bucket, statement, refusals.get(statement.fingerprint))
                out.write(statement.fingerprint + "\n")
            if statement.listed:
                listed.write(statement.listed + "\n")
    return applied


def _refused_listed(node: Node, partner: str) -> frozenset[str]:
    """The partner's statements refused before, as listed (keys and ETags): read after the rest."""
    path = _refused_file(node, partner).with_name(_REFUSED_LISTED)
    return frozenset(path.read_text().splitlines()) if path.exists() else frozenset()


def _names(statement: Statement) -> tuple[str, ...]:
    if isinstance(statement.parsed, Rotation):
        return statement.key, signature_key(statement.key), new_signature_key(statement.key)
    return statement.key, signature_key(statement.key)


def _audit_applied(audit: AuditLog, partner: str, statement: Statement) -> None:
    doc = statement.parsed
    if isinstance(doc, Rotation):
        audit.append(KEY_ADDED, of=partner, old_key_id=doc.old_minisign, new_key_id=doc.new_minisign,
                     old_age_key_id=doc.old_age, new_age_key_id=doc.new_age, rotated_at=doc.rotated_at,
                     statement=statement.key)
    else:
        audit.append(KEY_REVOKED, of=partner, key_id=doc.key_id, kind=doc.kind, revoked_at=doc.revoked_at,
                     reason=defused(doc.reason), successor=doc.successor, statement=statement.key)


def _refused(node: Node, partner: str, bucket: str, statement: Statement, exc: TerminalError | None) -> None:
    reason = defused((exc.message if exc else "refused")[:400])
    AuditLog.for_home(node.home, node.party).append(KEY_STATEMENT_REJECTED, of=partner, bucket=bucket,
                                                    statement=statement.key, reason=reason)
    kind = "signature" if isinstance(exc, SignatureError) else "statement"
    raise_alarm(node, "key-statement-invalid", partner,
                f"a key statement of {partner} in s3://{bucket}/{statement.key} was refused ({kind}): {reason}; "
                f"{partner}'s keys in the keyring are unchanged", statement=statement.key)
