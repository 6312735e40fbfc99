"""Crypto-shredding: destroy a retired age identity once nothing retained needs it.

After a rotation the old age identity is kept at
:func:`exchange.crypto.keys.retired_identity_path` so exchanges encrypted to it still open.
Once every exchange encrypted to it (``recipients[].key_id`` of the manifests this party landed)
has passed its retention, :func:`destroy_identity` overwrites the file in place with random
bytes, flushes it to disk, unlinks it and records ``key_destroyed`` in the audit log. Any copy of
the ciphertext that survives anywhere (a backup, a replica, a leaked bucket) can then no longer
be decrypted by anyone. Age keys are to be rotated at least once per retention period, so that
every key eventually becomes destroyable (README, "Retention and crypto-shredding").

It refuses the current key, a file that does not hold the key it is named after, and a key an
exchange still within its retention (or with a retention that cannot be computed) was encrypted to,
whether landed or still waiting in a partner's bucket, not pulled yet (only manifests whose
signature verifies count, so nothing planted with a bucket key can block a destruction).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from exchange.atomic import fsync_folder
from exchange.audit.log import AuditLog
from exchange.clock import format_time, now
from exchange.contract.model import all_contracts
from exchange.crypto import age
from exchange.crypto.keys import key_file_paths, retired_identity_path
from exchange.errors import ConfigError, NotFound, TerminalError
from exchange.protocol.deletion import own_statement_path
from exchange.protocol.inbound_checks import decision_path
from exchange.protocol.limits import MANIFEST_MAX, SIGNATURE_MAX
from exchange.protocol.manifest import Manifest, recipient_key_id
from exchange.protocol.naming import LANDING, MANIFEST, SIGNATURE, bucket_name, list_exchanges
from exchange.protocol.node import Node
from exchange.protocol.retention import retention_end

EVENT = "key_destroyed"
_KEY_ID = 16  # hex digits of recipient_key_id


@dataclass(frozen=True)
class Destroyed:
    """What ``gcmx keys destroy`` did: the key, the file and when (``already``: an earlier run did)."""

    key_id: str
    path: str
    time: str
    already: bool = False


def _key_ids(path: Path) -> set[str]:
    identities = age.read_identity_file(path.read_text(encoding="utf-8"))
    return {recipient_key_id(age.to_recipient(identity)) for identity in identities}


def still_needed(node: Node, key_id: str) -> list[str]:
    """Exchanges this party landed, encrypted to ``key_id``, whose retention has not ended (or
    cannot be computed), not yet deleted: ``"{dataset} {period} {exchange_id} (until ...)"``."""
    moment, needed = now(), []
    for path in sorted(node.folder(LANDING).glob(f"*/*/*/*/{MANIFEST}")):
        manifest = Manifest.from_json(path.read_bytes(), str(path))
        if key_id not in {r.key_id for r in manifest.recipients if r.party == node.party}:
            continue
        if own_statement_path(node, manifest.exchange_id).exists():
            continue  # deleted when its retention ended
        ends = retention_end(node, manifest, path.parent)
        if ends is None or ends > moment:
            until = format_time(ends) if ends else "an unknown time: its contract is not held here"
            needed.append(f"{manifest.dataset} {manifest.period} {manifest.exchange_id} (retained until {until})")
    return needed


def not_pulled(node: Node, key_id: str) -> list[str]:
    """Exchanges in a partner's bucket, encrypted to ``key_id``, that this party has not decided on
    yet and whose retention has not ended: ``"{dataset} {period} {exchange_id} (not pulled yet)"``.
    Reads are bounded and only a manifest whose signature verifies counts; a store that cannot
    be reached raises (TransientError): nothing is destroyed on a guess."""
    senders = {c.sender for c in all_contracts(node.settings.contracts, node.settings.expectations)
               if node.party in c.recipients and c.sender != node.party}
    moment, needed = now(), []
    for sender in sorted(senders):
        bucket = bucket_name(sender, node.party)
        for ref in list_exchanges(node.store, bucket):
            if decision_path(node, sender, ref).exists():
                continue  # landed (checked above) or rejected: nothing left to decrypt
            try:
                body = node.store.get_bytes(bucket, f"{ref.prefix}/{MANIFEST}", MANIFEST_MAX)
                signature = node.store.get_bytes(bucket, f"{ref.prefix}/{SIGNATURE}", SIGNATURE_MAX)
                node.public_keys(sender).minisign.verify(body, signature, ref.where(SIGNATURE))
                manifest = Manifest.from_json(body, ref.where(MANIFEST))
            except TerminalError:
                continue  # planted or damaged: pull rejects it; it needs no key
            if key_id in {r.key_id for r in manifest.recipients if r.party == node.party}:
                ends = retention_end(node, manifest)
                if ends is None or ends > moment:
                    needed.append(f"{manifest.dataset} {manifest.period} {manifest.exchange_id} from {sender} "
                                  "(not pulled yet)")
    return needed


def _overwrite(path: Path) -> None:
    """Overwrite the file's bytes in place with random bytes, durably, then unlink it."""
    size = path.stat().st_size
    with path.open("r+b", buffering=0) as handle:
        handle.write(os.urandom(max(size, 1)))
        os.fsync(handle.fileno())
    path.unlink()
    fsync_folder(path.parent)


def destroy_identity(node: Node, key_id: str) -> Destroyed:
    """Destroy this party's retired age identity ``key_id``; refuse while it is needed."""
    key_id = key_id.strip().lower()
    if len(key_id) != _KEY_ID or any(c not in "0123456789abcdef" for c in key_id):
        raise ConfigError(f"{key_id[:40]!r} is not an age key id (16 hex digits)",
                          hint="use the key id the manifest (recipients[].key_id) or the report shows")
    identity_dir = node.settings.identity_dir
    current = key_file_paths(node.party, identity_dir).age_identity
    if current.is_file() and key_id in _key_ids(current):
        raise ConfigError(f"age key {key_id} is {node.party}'s current key ({current})",
                          hint="rotate first (gcmx keys rotate); only a retired key can be destroyed")
    path = retired_identity_path(node.party, identity_dir, key_id)
    audit = AuditLog.for_home(node.home, node.party)
    if not path.is_file():
        done = [e for e in audit.entries() if e.get("event") == EVENT and e.get("key_id") == key_id]
        if done:
            return Destroyed(key_id, str(path), done[-1]["time"], already=True)
        raise NotFound(f"no retired age identity {key_id} of {node.party} at {path}",
                       hint="list the retired keys in the identity folder's retired/; rotate first", path=str(path))
    if key_id not in _key_ids(path):
        raise ConfigError(f"{path} does not hold age key {key_id}",
                          hint="the file was renamed or replaced; check it before destroying anything")
    needed = still_needed(node, key_id)
    waiting = [] if needed else not_pulled(node, key_id)
    if needed or waiting:
        listed = needed or waiting
        shown = "; ".join(listed[:5]) + (f" (+{len(listed) - 5} more)" if len(listed) > 5 else "")
        raise ConfigError(f"age key {key_id} is still needed by {len(listed)} exchange(s) within their "
                          f"retention: {shown}",
                          hint="pull first (gcmx pull) if an exchange is not pulled yet; destroy it once their "
                               "retention has ended and `gcmx retention apply` ran")
    _overwrite(path)
    entry = audit.append(EVENT, key_id=key_id, kind="age", file=str(path))
    return Destroyed(key_id, str(path), entry["time"])
