"""Protocol tests run on their own SeaweedFS per module, with KHM and THA provisioned."""

from __future__ import annotations

import pytest

from tests.conftest import start_seaweed
from tests.support.protocol import make_nodes


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    """A module's own SeaweedFS (overrides the session one where imported), so other
    modules' exchanges never show up in its buckets; the multi-process one (see tests/conftest.py)."""
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"), cluster=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nodes(seaweed, tmp_path_factory):
    """KHM and THA, provisioned, on the module's SeaweedFS."""
    return make_nodes(seaweed, tmp_path_factory.mktemp("parties"))
