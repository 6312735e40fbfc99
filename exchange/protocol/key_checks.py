"""Whether a partner's signed manifest was made with a key valid when it claims to be made.

A manifest is verified with the sender's key history (:class:`~exchange.crypto.key_history.TrustedKeys`):
the key that made the signature must be one the node trusts, and valid at the manifest's
``created`` time: not retired before it, not revoked at or before it. A manifest signed by a
revoked key that claims an earlier time but arrives now, after the revocation, is refused too
and raised as an alarm (``revoked-key-late-arrival``): whoever holds a stolen key can backdate.
"""

from __future__ import annotations

from exchange.audit.alarms import raise_alarm
from exchange.crypto.key_history import KeyRecord, TrustedKeys
from exchange.errors import SignatureError
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import ExchangeRef
from exchange.protocol.node import Node


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
