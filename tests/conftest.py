"""Shared fixtures: a real SeaweedFS S3 server on loopback, with one identity per party."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from exchange.devkit.seaweed import SeaweedServer, new_server
from exchange.devkit.seaweed_cluster import new_cluster
from exchange.storage.s3 import Store

REPO = Path(__file__).resolve().parent.parent
# Property tests are deterministic (same examples on every run, no example database):
# a test that passes or fails depending on the run is a bug.
settings.register_profile("gcmx", derandomize=True, database=None, deadline=None)
settings.load_profile("gcmx")

PARTIES = ("KHM", "THA", "MYS", "KOR")
PAIRS = (("KHM", "THA"), ("KHM", "MYS"), ("KHM", "KOR"))


# GCMX_TEST_SEAWEED=mini|cluster: every test's SeaweedFS is `weed mini` or the multi-process one
# (exchange.devkit.seaweed_cluster); unset, the protocol suite runs on the cluster, the rest on mini.
SEAWEED = os.environ.get("GCMX_TEST_SEAWEED", "")


def start_seaweed(directory: Path, cluster: bool = False) -> SeaweedServer:
    """A fresh SeaweedFS with buckets for every direction of every pair (``cluster``: master, two
    volume servers, filer and S3 gateway as separate processes, unless GCMX_TEST_SEAWEED says)."""
    if SEAWEED:
        cluster = SEAWEED == "cluster"
    return (new_cluster if cluster else new_server)(directory, PARTIES, PAIRS).start()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory) -> SeaweedServer:
    """One SeaweedFS for the whole session, stopped by its PID at teardown."""
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stores(seaweed) -> dict[str, Store]:
    """A store per party, each with that party's own credentials."""
    return {party: Store(seaweed.client(party)) for party in PARTIES}
