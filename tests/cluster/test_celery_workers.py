"""Concurrent DAG runs on Airflow with a PostgreSQL metadata DB and two Celery workers (Redis
broker), over a real SeaweedFS: the set-up of :mod:`exchange.devkit.airflow_cluster`, started here.

The DAGs folder holds one file that installs :mod:`tests.cluster.gate` and then runs the project's
DAG file, so every task process has the gate: a publish stops after its claims until the test
releases it. The test knows where each run is from the metadata DB and the gate's files.

Airflow itself runs one run of a DAG at a time (``max_active_runs=1`` in the DAG file); that file
here lifts it to two, so two runs of one outbound DAG do collide on the two workers, as two
Airflow deployments of one party, the CLI beside a DAG, or the retry of a task Airflow took for a
zombie would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exchange.devkit.airflow_cluster import AirflowCluster
from exchange.devkit.airflow_local import DAGS_FOLDER, LocalAirflow, s3_connection
from exchange.devkit.bootstrap import provision
from exchange.devkit.servers import wait_for
from exchange.protocol.manifest import Manifest
from exchange.protocol.naming import MANIFEST, OUTBOX, bucket_name, list_exchanges
from exchange.settings import PROJECT_ROOT
from exchange.storage.s3 import Store
from tests.conftest import start_seaweed
from tests.dags.conftest import snapshot_contracts
from tests.support.protocol import dataset

pytestmark = pytest.mark.cluster
BUCKET = bucket_name("KHM", "THA")
CHILDREN, WORKERS = "children_on_the_move.khm-tha", "workers_deployed.khm-tha"
WRAPPER = """
# an airflow DAG file (the words Airflow's safe mode looks for): the project's DAGs, gated
import sys
sys.path.insert(0, {root!r})
from tests.cluster.gate import install
install({gate!r})
exec(compile(open({dag!r}).read(), {dag!r}, "exec"))
for _dag in [v for v in globals().values() if isinstance(v, DAG)]:
    _dag.max_active_runs = 2  # let two runs of one DAG collide
"""


def dag_id(contract: str) -> str:
    return "gcmx_outbound_" + contract.replace(".", "_").replace("-", "_")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("celery")
    contracts = snapshot_contracts(base)
    server = start_seaweed(base / "s3")
    cluster = None
    try:
        homes = provision(base / "parties", ("KHM", "THA"), [("KHM", "THA")], contracts_dir=contracts)
        gate, dags = base / "gate", base / "dags"
        gate.mkdir()
        dags.mkdir()
        (dags / "gcmx_exchange.py").write_text(WRAPPER.format(root=str(PROJECT_ROOT), gate=str(gate),
                                                              dag=str(DAGS_FOLDER / "gcmx_exchange.py")))
        creds = server.credentials["KHM"]
        local = LocalAirflow("KHM", homes["KHM"], base / "airflow",
                             s3_connection(server.endpoint, creds.access_key_id, creds.secret_access_key),
                             {"GCMX_CONTRACTS": str(contracts), "GCMX_EXPECTATIONS": str(base / "expectations")})
        cluster = AirflowCluster(local, dags_folder=dags).start()
        cluster.wait_dags([dag_id(CHILDREN), dag_id(WORKERS)])
        yield cluster, gate, Store(server.client("KHM")), homes["KHM"]
    finally:
        if cluster is not None:
            cluster.stop()
        server.stop()


def reset(gate: Path) -> None:
    for path in gate.iterdir():
        path.unlink()


def outbox(home: Path, contract: str, period: str, tmp_path: Path) -> None:
    target = home / OUTBOX / contract / f"{period}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(dataset(contract, tmp_path, period=period), target)


def published(store: Store, dataset_name: str, period: str) -> list[Manifest]:
    refs = list_exchanges(store, BUCKET, f"{dataset_name}/{period}/")
    return [Manifest.from_json(store.get_bytes(BUCKET, r.key(MANIFEST), 1 << 20)) for r in refs]


def test_two_workers_run_one_exchange_at_once_exactly_once_and_another_dataset_beside_it(cluster, tmp_path):
    """Two runs of one outbound DAG and period on the two workers: one publishes (held at the gate),
    the other meets it busy and retries; then another dataset to the same partner publishes on the
    second worker while the first is still held: two publishes at once, neither in the other's way."""
    airflow, gate, store, home = cluster
    reset(gate)
    outbox(home, CHILDREN, "2026-01", tmp_path)
    outbox(home, WORKERS, "2026-01", tmp_path)
    first, second = airflow.trigger([(dag_id(CHILDREN), {"period": "2026-01"})] * 2)

    def one_holds_the_other_waits() -> bool:  # one publish at the gate, the other met it busy
        states = [airflow.task_states(r).get("publish") for r in (first, second)]
        return len(list(gate.glob("reached-*"))) == 1 and "up_for_retry" in states

    wait_for("one publish at the gate and the other retrying", one_holds_the_other_waits, airflow.processes, 600)
    [beside] = airflow.trigger([(dag_id(WORKERS), {"period": "2026-01"})])
    # the other dataset's publish holds its claims while the first one still holds its own
    wait_for("both publishes at the gate", lambda: len(list(gate.glob("reached-*"))) == 2, airflow.processes, 600)
    (gate / "release").touch()
    assert airflow.wait_runs([first, second, beside]) == dict.fromkeys([first, second, beside], "success")
    [children] = published(store, "children_on_the_move", "2026-01")
    [workers] = published(store, "workers_deployed", "2026-01")
    assert children.revision == 1 and workers.revision == 1 and children.sequence != workers.sequence
    uploaded = sorted(path.read_text() for path in gate.glob("reached-*"))  # who got past its claims
    assert uploaded == sorted([children.exchange_id, workers.exchange_id])  # each exchange once
