"""How a verified key statement changes a party's key history: pure rules, no I/O.

A **rotation** is accepted only when its signature by the *old* key verifies with a key this
node already trusts, its signature by the *new* key verifies with the key it introduces, and
the old key is the party's current one (or was revoked by a revocation that names the new key
as its successor). A statement signed by the new key alone, or by a retired or revoked key, or
introducing keys that do not match their ids, is refused. The old keys keep their window
(``valid_until`` = ``rotated_at``), so what they signed before stays verifiable.

A **revocation** is accepted only when it verifies with the party's revocation key from the key
ceremony. It marks the key revoked from ``revoked_at``; keys a rotation signed by that key
introduced (someone holding the stolen key rotated to their own), except the named successor,
are revoked with it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from exchange.crypto import age
from exchange.crypto.key_history import KeyHistory, KeyRecord, age_key_id, moment
from exchange.crypto.minisign import PublicKey, signature_key_id
from exchange.errors import GcmxError, ProtocolError, SignatureError
from exchange.protocol.key_statements import Revocation, Rotation

CLOCK_SKEW = timedelta(hours=1)  # a statement dated further ahead than this is refused
_HINT = "refused: a rotation must be signed by the key partners trust and by the new key"


def already_applied(history: KeyHistory, rotation: Rotation) -> bool:
    """Whether the history already holds the keys this rotation introduces (a replay: no change)."""
    known = history.find(rotation.new_minisign, "minisign")
    return known is not None and known.introduced_by.upper() == rotation.old_minisign.upper()


def apply_rotation(history: KeyHistory, rotation: Rotation, old_signature: bytes, new_signature: bytes,
                   where: str, now: str) -> KeyHistory:
    """The history after ``rotation``; SignatureError or ProtocolError (naming ``where``) if refused."""
    if rotation.party != history.party:
        raise ProtocolError(f"{where}: rotation of {rotation.party}'s keys found among {history.party}'s",
                            hint="a statement was copied from another bucket; refused")
    if moment(rotation.rotated_at) > moment(now) + CLOCK_SKEW:
        raise ProtocolError(f"{where}: rotation dated {rotation.rotated_at}, in the future", hint=_HINT)
    old = history.find(rotation.old_minisign, "minisign")
    if old is None or signature_key_id(old_signature, where) != old.key_id:
        raise SignatureError(f"{where}: not signed by a key of {history.party} this node trusts "
                             f"(claims old key {rotation.old_minisign})", hint=_HINT)
    successor_of_revoked = old.revoked_at and old.successor.upper() == rotation.new_minisign.upper()
    if not old.current and not successor_of_revoked:
        raise SignatureError(f"{where}: rotation from key {old.key_id}, which is no longer current "
                             f"(retired {old.valid_until or '-'}, revoked {old.revoked_at or '-'})", hint=_HINT)
    if successor_of_revoked:  # the window a thief's rotation closed does not count against the successor
        old = replace(old, valid_until="")
    refusal = old.refusal(rotation.rotated_at)
    if refusal:
        raise SignatureError(f"{where}: {refusal}", hint=_HINT)
    comment = PublicKey.from_string(old.public, "old key").verify(rotation.to_json(), old_signature, where)
    try:
        new_key = PublicKey.from_string(rotation.new_minisign_public, f"{where} new_minisign_public")
        new_comment = new_key.verify(rotation.to_json(), new_signature, f"{where}.new.minisig")
        age.parse_recipient(rotation.new_age_recipient)  # a malformed recipient is refused before use
    except GcmxError as exc:
        raise SignatureError(f"{where}: the new key's signature does not hold ({exc.message})", hint=_HINT) from None
    if comment != rotation.comment() or new_comment != rotation.comment():
        raise SignatureError(f"{where}: a signature names another statement", hint=_HINT)
    if new_key.key_id != rotation.new_minisign.upper() or age_key_id(rotation.new_age_recipient) != rotation.new_age:
        raise ProtocolError(f"{where}: a new key does not match its key id", hint=_HINT)
    if history.find(rotation.new_minisign) or history.find(rotation.new_age):
        raise ProtocolError(f"{where}: rotation to a key {history.party} already had", hint=_HINT)
    old_age = history.current("age")
    if old_age is not None and old_age.key_id != rotation.old_age:
        raise ProtocolError(f"{where}: rotation names age key {rotation.old_age}, the current one is "
                            f"{old_age.key_id}", hint=_HINT)
    at = rotation.rotated_at
    history = history.with_key(replace(old, valid_until=at))
    if old_age is not None:
        history = history.with_key(replace(old_age, valid_until=at))
    history = history.with_key(KeyRecord("minisign", new_key.key_id, rotation.new_minisign_public, valid_from=at,
                                         introduced_by=old.key_id))
    return history.with_key(KeyRecord("age", rotation.new_age, rotation.new_age_recipient, valid_from=at,
                                      introduced_by=new_key.key_id))


def verify_revocation(history: KeyHistory, revocation: Revocation, signature: bytes, where: str) -> None:
    """Raise SignatureError unless ``signature`` by one of the party's revocation keys verifies."""
    keys = history.of_kind("revocation")
    if not keys:
        raise SignatureError(f"{where}: no revocation key of {history.party} in the keyring to verify it with",
                             hint=f"put {history.party}.revocation.pub from the key ceremony in the keyring; "
                                  "until then the revocation is not applied")
    signer = signature_key_id(signature, where)
    record = next((k for k in keys if k.key_id.upper() == signer.upper()), None)
    if record is None:
        raise SignatureError(f"{where}: signed by key {signer}, not by {history.party}'s revocation key "
                             f"({', '.join(k.key_id for k in keys)})",
                             hint="only the offline revocation key from the key ceremony can revoke; refused")
    comment = PublicKey.from_string(record.public, "revocation key").verify(revocation.to_json(), signature, where)
    if comment != revocation.comment():
        raise SignatureError(f"{where}: the signature names another revocation", hint="refused")


def apply_revocation(history: KeyHistory, revocation: Revocation, signature: bytes, where: str) -> KeyHistory:
    """The history after a verified ``revocation`` (SignatureError/ProtocolError if refused)."""
    if revocation.party != history.party:
        raise ProtocolError(f"{where}: revocation of {revocation.party}'s key found among {history.party}'s",
                            hint="a statement was copied from another bucket; refused")
    verify_revocation(history, revocation, signature, where)
    target = history.find(revocation.key_id, revocation.kind)
    if target is None:
        raise ProtocolError(f"{where}: revokes {revocation.kind} key {revocation.key_id}, unknown here",
                            hint=f"the keyring misses a rotation of {history.party}; it is applied on the next "
                                 "pull, after the rotation")
    if target.revoked_at and target.revoked_at <= revocation.revoked_at:
        return history  # already revoked (a replay, or a later date): no change
    history = history.with_key(replace(target, revoked_at=revocation.revoked_at, reason=revocation.reason,
                                       successor=revocation.successor))
    return _revoke_introduced(history, target.key_id, revocation.successor, revocation.revoked_at)


def _revoke_introduced(history: KeyHistory, key_id: str, successor: str, at: str) -> KeyHistory:
    """Revoke what a rotation signed by revoked ``key_id`` introduced, except ``successor``'s keys."""
    for record in history.keys:
        if record.introduced_by.upper() != key_id.upper() or record.revoked_at:
            continue
        if successor and record.key_id.upper() == successor.upper():
            continue
        history = history.with_key(replace(record, revoked_at=at,
                                           reason=f"introduced by revoked key {key_id}"))
        history = _revoke_introduced(history, record.key_id, "", at)
    return history
