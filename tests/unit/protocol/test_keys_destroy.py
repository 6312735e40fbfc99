"""`gcmx keys destroy` (exchange/crypto/shred.py) on the in-memory store with a moved clock: it refuses
the current key and a retired key a retained exchange was encrypted to; once retention has passed it
overwrites and unlinks the retired identity, audits it, and the ciphertext no longer decrypts."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner

from exchange import clock
from exchange.cli import main
from exchange.crypto import age
from exchange.crypto.keys import key_file_paths, retired_identity_path
from exchange.crypto.shred import destroy_identity
from exchange.errors import ConfigError, GcmxError
from exchange.protocol.inbound import pull
from exchange.protocol.naming import DATA
from exchange.protocol.retention import apply_retention
from tests.support.protocol import events
from tests.support.rotation import retire_age_identity

AFTER = timedelta(days=5 * 365 + 3)


@pytest.fixture
def retired(nodes, published, store):
    """THA landed KHM's exchange, then rotated its age key: (THA, retired key id, the ciphertext)."""
    tha = nodes["THA"]
    assert [r.status for r in pull(tha, "KHM")] == ["landed"]
    cipher = store.objects["khm-to-tha"][f"{published.prefix}/{DATA}"]
    return tha, retire_age_identity(tha), cipher


def _identities(node) -> list[str]:
    folder = node.settings.identity_dir
    files = [key_file_paths(node.party, folder).age_identity, *(folder / "retired").glob("*.age")]
    return [i for f in files for i in age.read_identity_file(f.read_text())]


def test_the_current_key_is_never_destroyed(retired):
    tha, _, _ = retired
    [current] = age.read_identity_file(key_file_paths("THA", tha.settings.identity_dir).age_identity.read_text())
    from exchange.protocol.manifest import recipient_key_id

    with pytest.raises(ConfigError, match="current key"):
        destroy_identity(tha, recipient_key_id(age.to_recipient(current)))


def test_a_key_a_retained_exchange_needs_is_refused_and_kept(retired, published):
    tha, key_id, cipher = retired
    with pytest.raises(ConfigError, match="still needed by 1 exchange") as err:
        destroy_identity(tha, key_id)
    assert published.exchange_id in err.value.message and "retention" in err.value.hint
    assert retired_identity_path("THA", tha.settings.identity_dir, key_id).is_file()
    assert age.decryptor(io.BytesIO(cipher), _identities(tha)).read(4) == b"PAR1"


def test_after_retention_the_key_is_overwritten_unlinked_audited_and_the_ciphertext_is_unreadable(retired):
    tha, key_id, cipher = retired
    path = retired_identity_path("THA", tha.settings.identity_dir, key_id)
    witness = path.with_name("hard-link-to-the-same-bytes")
    os.link(path, witness)  # sees the very bytes the file had: they must be overwritten, not just unlinked
    with clock.shifted(AFTER):
        apply_retention(tha)
        done = destroy_identity(tha, key_id)
    assert not path.exists() and not done.already
    assert b"AGE-SECRET-KEY" not in witness.read_bytes()
    witness.unlink()
    assert events(tha, "key_destroyed", key_id=key_id)
    with pytest.raises(GcmxError):
        age.decryptor(io.BytesIO(cipher), _identities(tha)).read(4)
    again = destroy_identity(tha, key_id)  # idempotent: says so, changes nothing
    assert again.already and len(events(tha, "key_destroyed", key_id=key_id)) == 1


def test_the_cli_refuses_with_exit_2_and_a_clear_message(retired, monkeypatch):
    tha, key_id, _ = retired
    monkeypatch.setenv("GCMX_PARTY", "THA")
    monkeypatch.setenv("GCMX_HOME", str(tha.home))
    result = CliRunner().invoke(main, ["keys", "destroy", key_id])
    assert result.exit_code == 2 and "still needed" in result.output
    result = CliRunner().invoke(main, ["keys", "destroy", "not-a-key"])
    assert result.exit_code == 2 and "16 hex digits" in result.output
