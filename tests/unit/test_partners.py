"""One "partners" rule (exchange/protocol/partners.py): the parties of contracts in force.

``gcmx audit checkpoint`` and the DAG's checkpoint task publish to the same buckets, and a key in
the keyring alone (a third party, or a partner whose contract is not signed yet) makes nobody a
partner: no write is ever attempted into a bucket this party has no right to.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from exchange.audit.log import AuditLog
from exchange.cli import main
from exchange.devkit.bootstrap import provision
from exchange.errors import ConfigError
from exchange.orchestration import tasks
from exchange.protocol.naming import AGREEMENTS, latest_checkpoint_key
from exchange.protocol.node import Node
from exchange.protocol.partners import checkpoint_buckets, partners
from exchange.settings import load_settings
from exchange.storage.s3 import Store
from tests.support.memory_store import MemoryStore

BUCKETS = ["khm-to-tha", "tha-to-khm"]  # the only buckets that exist: KHM may write no other


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    """KHM, THA and MYS keys in every keyring; every KHM-THA contract signed by both, while MYS
    has not signed its contracts with KHM yet (only KHM's signatures are there)."""
    homes = provision(tmp_path_factory.mktemp("homes"), ("KHM", "THA", "MYS"), [("KHM", "THA")], classic=True)
    for home in homes.values():
        for unsigned in (home / AGREEMENTS).glob("*.MYS.minisig"):
            unsigned.unlink()
    return homes


@pytest.fixture
def khm(homes, tmp_path) -> Node:
    return Node(load_settings(party="KHM", home=homes["KHM"]), MemoryStore(BUCKETS))


def test_partners_are_the_other_parties_of_contracts_in_force(homes, khm):
    assert (homes["KHM"] / "keyring" / "MYS.minisign.pub").is_file()  # a key alone makes no partner
    assert partners(khm) == ["THA"]
    assert checkpoint_buckets(khm) == ["khm-to-tha"]
    tha = Node(load_settings(party="THA", home=homes["THA"]), khm.store)
    assert partners(tha) == ["KHM"]


def test_a_suite_edited_after_signing_makes_no_partner(homes, tmp_path):
    """The signatures cover the contract's hash (contract and suite): an edit voids them."""
    source = load_settings()
    shutil.copytree(source.contracts, tmp_path / "contracts")
    shutil.copytree(source.expectations, tmp_path / "expectations")
    for path in (tmp_path / "expectations").glob("*.json"):
        suite = json.loads(path.read_text())
        path.write_text(json.dumps({**suite, "meta": {**suite.get("meta", {}), "edited": True}}))
    node = Node(load_settings(party="KHM", home=homes["KHM"], contracts=tmp_path / "contracts",
                              expectations=tmp_path / "expectations"), MemoryStore(BUCKETS))
    assert partners(node) == []
    with pytest.raises(ConfigError, match="partners now: none"):
        checkpoint_buckets(node, ["THA"])


def test_gcmx_audit_checkpoint_and_the_dag_publish_to_the_same_buckets(homes, khm, monkeypatch):
    monkeypatch.setenv("GCMX_PARTY", "KHM")
    monkeypatch.setenv("GCMX_HOME", str(homes["KHM"]))
    monkeypatch.setattr(Store, "from_settings", classmethod(lambda cls, settings: khm.store))
    AuditLog.for_home(khm.home, "KHM").append("publish", exchange_id="e1")
    result = CliRunner().invoke(main, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "published to khm-to-tha;" in result.output
    monkeypatch.setattr(tasks, "node_for", lambda client, settings=None: khm)
    assert tasks.publish_audit_checkpoint(None)["buckets"] == ["khm-to-tha"]


def test_third_party_key_in_the_keyring_causes_no_write_anywhere(homes, khm, monkeypatch):
    """The old rule (every key in the keyring) wrote khm-to-tha, then failed on khm-to-mys."""
    monkeypatch.setenv("GCMX_PARTY", "KHM")
    monkeypatch.setenv("GCMX_HOME", str(homes["KHM"]))
    monkeypatch.setattr(Store, "from_settings", classmethod(lambda cls, settings: khm.store))
    result = CliRunner().invoke(main, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert khm.store.exists("khm-to-tha", latest_checkpoint_key("KHM"))
    assert list(khm.store.list_keys("tha-to-khm")) == []


def test_checkpoint_to_a_non_partner_is_refused_before_anything_is_written(homes, khm, monkeypatch):
    monkeypatch.setenv("GCMX_PARTY", "KHM")
    monkeypatch.setenv("GCMX_HOME", str(homes["KHM"]))
    monkeypatch.setattr(Store, "from_settings", classmethod(lambda cls, settings: khm.store))
    log = AuditLog.for_home(khm.home, "KHM")
    before = log.head()
    result = CliRunner().invoke(main, ["audit", "checkpoint", "--to", "THA", "--to", "MYS"])
    assert result.exit_code == 2
    assert "MYS is not a partner of KHM" in result.output
    assert all(list(khm.store.list_keys(bucket)) == [] for bucket in BUCKETS)
    assert log.head() == before
    with pytest.raises(ConfigError, match="KOR is not a partner"):
        checkpoint_buckets(khm, ["KOR"])
