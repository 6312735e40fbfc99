"""Protocol rules on the in-memory store: KHM, THA and MYS (KHM paired with each), fresh
homes and a fresh, empty store for every test, so each test is independent and fast.

Keys are generated once per session; each test gets copies of the provisioned homes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from exchange.devkit.bootstrap import provision
from exchange.protocol.naming import bucket_name
from exchange.protocol.node import Node
from exchange.protocol.outbound import PublishResult, publish
from tests.support.memory_store import MemoryStore
from tests.support.protocol import dataset, nodes_on

PARTIES = ("KHM", "THA", "MYS")
CONTRACT = "children_on_the_move.khm-tha"
PERIOD = "2026-10"


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory) -> dict[str, Path]:
    return provision(tmp_path_factory.mktemp("provisioned"), PARTIES, [("KHM", "THA"), ("KHM", "MYS")])


@pytest.fixture
def store() -> MemoryStore:
    """An empty in-memory S3 with every direction's bucket; this view is an admin's."""
    return MemoryStore([bucket_name(a, b) for a in PARTIES for b in PARTIES if a != b])


@pytest.fixture
def nodes(provisioned, store, tmp_path) -> dict[str, Node]:
    """Each party with a fresh copy of its home and its own credentials on ``store``."""
    homes = {p: Path(shutil.copytree(home, tmp_path / "homes" / p)) for p, home in provisioned.items()}
    return nodes_on(homes, store.as_party)


@pytest.fixture(scope="session")
def source(tmp_path_factory):
    """``source(contract, period, seed=1, **kwargs)``: a synthetic input file, made once per session."""
    folder, made = tmp_path_factory.mktemp("inputs"), {}

    def make(contract: str = CONTRACT, period: str = PERIOD, seed: int = 1, **kwargs) -> Path:
        key = (contract, period, seed, json.dumps(kwargs, sort_keys=True))
        if key not in made:
            made[key] = dataset(contract, folder / str(len(made)), period=period, seed=seed, **kwargs)
        return made[key]

    return make


@pytest.fixture(scope="session")
def _published_once(provisioned, source, tmp_path_factory):
    """KHM's home and its bucket after one genuine publish of ``source()`` (made once per session)."""
    base = tmp_path_factory.mktemp("published")
    homes = {p: Path(shutil.copytree(home, base / p)) for p, home in provisioned.items()}
    store = MemoryStore([bucket_name("KHM", "THA")])
    khm = nodes_on({"KHM": homes["KHM"]}, store.as_party)["KHM"]
    result = publish(khm, source(), CONTRACT, PERIOD)
    assert not [p for p in homes["KHM"].rglob("*") if p.is_file() and str(base).encode() in p.read_bytes()]
    return homes["KHM"], {bucket: dict(objects) for bucket, objects in store.objects.items()}, result


@pytest.fixture
def published(_published_once, nodes, store) -> PublishResult:
    """``nodes`` and ``store`` as they are once KHM published ``source()`` for PERIOD (a copy of a
    session-wide publish: every test still starts from its own state)."""
    home, objects, result = _published_once
    khm = nodes["KHM"]
    shutil.rmtree(khm.home)
    shutil.copytree(home, khm.home)
    for bucket, found in objects.items():
        store.objects[bucket].update(found)
    return result
