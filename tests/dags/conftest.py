"""Two parties' Airflow instances (KHM, THA) on SQLite, over their own real SeaweedFS.

The DAG tests get a SeaweedFS of their own (started like the shared ``seaweed`` fixture,
by ``tests.conftest.start_seaweed``): an inbound DAG receives *every* new exchange in its
bucket, so exchanges other test modules publish must not reach it. Contracts and suites
are copied first, so the signatures made at set-up match what the DAGs load.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from exchange.devkit.airflow_local import LocalAirflow, s3_connection
from exchange.devkit.bootstrap import provision
from exchange.devkit.seaweed import SeaweedServer
from exchange.settings import PROJECT_ROOT
from tests.conftest import start_seaweed

PAIR = ("KHM", "THA")


@dataclass
class Exchange:
    """The two parties' Airflows, their S3 server and the contracts they signed."""

    server: SeaweedServer
    airflow: dict[str, LocalAirflow]
    contracts: Path


def snapshot_contracts(target: Path) -> Path:
    """Copy contracts/ and expectations/ side by side under ``target``; return the contracts dir."""
    for name in ("contracts", "expectations"):
        shutil.copytree(PROJECT_ROOT / name, target / name)
    return target / "contracts"


@pytest.fixture(scope="session")
def dag_exchange(tmp_path_factory) -> Exchange:
    base = tmp_path_factory.mktemp("dag_exchange")
    contracts = snapshot_contracts(base)
    server = start_seaweed(base / "s3")
    try:
        homes = provision(base / "parties", PAIR, [PAIR], contracts_dir=contracts)
        settings = {"GCMX_CONTRACTS": str(contracts), "GCMX_EXPECTATIONS": str(base / "expectations")}
        airflow = {}
        for party in PAIR:
            creds = server.credentials[party]
            airflow[party] = LocalAirflow(party, homes[party], base / "airflow" / party,
                                          s3_connection(server.endpoint, creds.access_key_id,
                                                        creds.secret_access_key), settings)
        airflow["KHM"].migrate()
        airflow["THA"].migrate(template=airflow["KHM"].database)
        yield Exchange(server, airflow, contracts)
    finally:
        server.stop()
