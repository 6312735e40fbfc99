"""Red-team findings on key and data lifecycle (issue 15), each named by the attacker's capability."""

from __future__ import annotations

import pytest

from exchange.crypto.key_history import history_path, load_history
from exchange.protocol.inbound import pull
from exchange.protocol.key_pickup import pick_up_key_statements
from exchange.protocol.key_rotation import publish_statements, revoke_key
from tests.support.protocol import assert_quarantined, forge, manifest_fields

CONTRACT = "children_on_the_move.khm-tha"


def _revoke(node, key_id, reason="laptop stolen", now=None):
    secret = node.settings.identity_dir / f"{node.party}.revocation.key"
    objects = revoke_key(node.party, key_id, reason, secret, node.settings.identity_dir,
                         node.settings.keyring_dir, now)
    publish_statements(node, ["THA", "MYS"] if node.party == "KHM" else ["KHM"])
    return objects


@pytest.mark.parametrize("bucket_copy_deleted", [False, True])
def test_stolen_signing_key_trusted_again_after_a_careless_officer_deletes_keys_json(nodes, store,
                                                                                      bucket_copy_deleted):
    """The revocation was picked up once; the partner's keys.json is then lost. The next pull must
    apply the revocation again (from the bucket, or from the kept copy when the thief deleted the
    bucket's), not trust the stolen key."""
    khm, tha = nodes["KHM"], nodes["THA"]
    stolen = khm.identity.signing_key.key_id
    _revoke(khm, stolen, now="2026-11-05T00:00:00.000Z")
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(stolen).revoked_at
    history_path("KHM", tha.settings.keyring_dir).unlink()  # a careless data officer
    if bucket_copy_deleted:
        for key in list(store.objects["khm-to-tha"]):
            if key.startswith("keys/"):
                store.delete("khm-to-tha", key)
    fields = manifest_fields(khm, tha, CONTRACT, "2026-10", "c" * 32, created="2026-11-06T00:00:00.000Z")
    manifest = forge(khm, tha, fields)  # the thief signs on with the stolen key
    pick_up_key_statements(tha, "KHM")
    assert load_history("KHM", tha.settings.keyring_dir).find(stolen).revoked_at
    [received] = pull(tha, "KHM")
    assert received.status == "rejected"
    assert_quarantined(tha, "KHM", manifest.prefix, "revoked")
