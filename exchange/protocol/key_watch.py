"""This party's own outbound buckets, watched for key statements it did not make.

Someone holding this party's stolen signing key can rotate it to their own key: the statement
verifies for every partner, who then trusts the thief's key and encrypts to the thief's age key
until the party revokes. The party itself never applies its own statements, so it watches for
them: every object under ``keys/`` of its bucket towards a partner must be one of the statement
objects it keeps (``{keyring}/statements/{PARTY}/``), byte for byte. Anything else is raised as
a ``key-statement-foreign`` alarm (once per object and content), telling the office to revoke.
Only listing and bounded reads; nothing read is parsed or trusted.
"""

from __future__ import annotations

import hashlib

from exchange.audit.alarms import raise_alarm
from exchange.errors import NotFound, ObjectTooLarge
from exchange.protocol.key_rotation import own_statements, statements_dir
from exchange.protocol.limits import STATEMENT_MAX
from exchange.protocol.naming import KEY_STATEMENTS, bucket_name
from exchange.protocol.node import Node

ALARM = "key-statement-foreign"
LISTED_MAX = 1_000  # objects under keys/ looked at per run
_NOTED = ".foreign"


def watch_own_statements(node: Node, partner: str) -> list[str]:
    """Alarm on objects under ``keys/`` of this party's bucket towards ``partner`` that are not
    its own kept statements; the object keys newly alarmed about."""
    bucket = bucket_name(node.party, partner)
    ours = own_statements(node.settings.keyring_dir, node.party)
    noted_file = statements_dir(node.settings.keyring_dir, node.party) / _NOTED
    noted = set(noted_file.read_text().split()) if noted_file.exists() else set()
    alarmed = []
    for count, key in enumerate(node.store.list_keys(bucket, f"{KEY_STATEMENTS}/")):
        if count >= LISTED_MAX:
            break
        try:
            data = node.store.get_bytes(bucket, key, STATEMENT_MAX)
        except NotFound:
            continue
        except ObjectTooLarge:
            data = b"(too large)"
        if ours.get(key) == data:
            continue
        mark = hashlib.sha256(f"{bucket}/{key}".encode() + b"\n" + data).hexdigest()
        if mark in noted:
            continue
        raise_alarm(node, ALARM, partner,
                    f"s3://{bucket}/{key[:120]} is a key statement {node.party} did not make (a rotation or "
                    f"revocation in its name); if it is a rotation signed with {node.party}'s key, that key is "
                    "stolen: revoke it now (gcmx keys revoke KEY_ID --reason ...)", statement=key[:200])
        noted_file.parent.mkdir(parents=True, exist_ok=True)
        with noted_file.open("a") as out:
            out.write(mark + "\n")
        noted.add(mark)
        alarmed.append(key)
    return alarmed
