"""Whether a partner's signed manifest was made with a key valid when it claims to be made.

A manifest is verified with the sender's key history (:class:`~exchange.crypto.key_history.TrustedKeys`):
the key that made the signature must be one the node trusts, and valid at the manifest's
``created`` time: not retired before it, not revoked at or before it. A manifest signed by a
revoked key that claims an earlier time but arrives now, after the revocation, is refused too
and raised as an alarm (``revoked-key-late-arrival``): whoever holds a stolen key can backdate.
Likewise a manifest signed by a key a rotation retired that first appeared in the store more
than :data:`~exchange.protocol.observed.TOLERANCE` after the retirement (``retired-key-late-arrival``,
:func:`check_arrival`): a rotation is no revocation, but nothing genuine is signed with the old
key after it.
"""

from __future__ import annotations

from exchange.audit.alarms import raise_alarm
from exchange.clock import parse_time
from exchange.crypto.key_history import KeyRecord, TrustedKeys, moment
from exchange.errors import SignatureError
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import ExchangeRef
from exchange.protocol.node import Node
from exchange.protocol.observed import TOLERANCE


def verify_signer(node: Node, sender: str, body: bytes, signature: bytes, source: str) -> tuple[str, KeyRecord]:
    """The trusted comment of ``signature`` over ``body`` and the key of ``sender`` that made it;
    :func:`check_signing_time` must follow once the manifest is read."""
    keys: TrustedKeys = node.public_keys(sender).minisign
    return keys.verify_signer(body, signature, source)


def check_signing_time(node: Node, sender: str, ref: ExchangeRef, signer: KeyRecord, manifest: Manifest) -> None:
    """SignatureError (the exchange is rejected) unless ``signer`` was valid at ``manifest.created``."""
    where = ref.where("manifest.json")
    refusal = signer.refusal(manifest.created)
    if refusal:
        raise SignatureError(f"{where}: signed with a key not valid when the manifest says it was made: {refusal}",
                             hint=f"refused; {sender} republishes with its current key if the exchange is genuine")
    if signer.revoked_at:
        raise_alarm(node, "revoked-key-late-arrival", sender,
                    f"{where} is signed by {sender}'s key {signer.key_id}, revoked at {signer.revoked_at} "
                    f"({signer.reason}); it claims to be made at {manifest.created}, before the revocation, "
                    "but arrived after it", exchange_id=ref.exchange_id, key_id=signer.key_id)
        raise SignatureError(f"{where}: signed by key {signer.key_id}, revoked at {signer.revoked_at}; dated "
                             f"{manifest.created} but first seen after the revocation",
                             hint=f"refused (an alarm was raised); {sender} confirms out of band and republishes "
                                  "with its current key")


def check_arrival(node: Node, sender: str, ref: ExchangeRef, manifest: Manifest, times: dict) -> None:
    """SignatureError (the exchange is rejected) and an alarm when ``manifest`` was signed by a
    key of ``sender`` that a rotation retired, and the store says it appeared more than
    TOLERANCE after that (``times`` from :func:`exchange.protocol.observed.observe`)."""
    keys: TrustedKeys = node.public_keys(sender).minisign
    signer = keys.history.find(manifest.sender_key_id, "minisign")
    appeared = parse_time(times.get("store_last_modified"))
    if signer is None or not signer.valid_until or appeared is None:
        return
    if appeared <= moment(signer.valid_until) + TOLERANCE:
        return
    where = ref.where("manifest.json")
    raise_alarm(node, "retired-key-late-arrival", sender,
                f"{where} is signed by {sender}'s key {signer.key_id}, retired at {signer.valid_until}; it claims "
                f"to be made at {manifest.created[:40]} but appeared at {times['store_last_modified']}",
                exchange_id=ref.exchange_id, key_id=signer.key_id)
    raise SignatureError(f"{where}: signed by key {signer.key_id}, retired at {signer.valid_until}; first seen in "
                         f"the store at {times['store_last_modified']}, after the retirement",
                         hint=f"refused (an alarm was raised): {sender} signs with its current key; if the "
                              "old key may be stolen, ask it to revoke the key")
