"""Many partners: KHM with 20 partners x 11 contracts (10 it sends, 1 it receives) gets its 242 DAGs
from one parse of the DAG file, in at most 2 s beyond Airflow's own import, reading nothing but the
local contracts, agreements and keyring (no S3 client, no database, no network).

The DagBag is filled in a child process (Airflow reads its configuration once, at import) whose
sockets are disabled: any attempt to reach S3, a database or the network while parsing fails the
parse. The bound is on CPU seconds, which a loaded CI machine does not inflate as it does wall time
(both are printed), and on the best of up to three parses, as a benchmark would report it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from exchange.devkit.bootstrap import provision
from exchange.devkit.many_partners import generate
from exchange.settings import PROJECT_ROOT

pytestmark = pytest.mark.cluster
BOUND = 2.0
ATTEMPTS = 3

PROBE = """
import json, socket, sys, time
import airflow.sdk  # Airflow's own import, not counted
from airflow.dag_processing.dagbag import DagBag

def no_network(*args, **kwargs):
    raise OSError("network used while parsing DAGs")

socket.socket.connect = socket.create_connection = no_network
WATCHED = ("pyarrow", "great_expectations", "pandas", "exchange.protocol.node", "psycopg2")
before = {m for m in WATCHED if m in sys.modules}  # what Airflow itself imported (boto3 comes with
# the amazon provider for the s3:// assets: imported, never called; the closed sockets prove it)
cpu, wall = time.process_time(), time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
heavy = [m for m in WATCHED if m in sys.modules and m not in before]
print("PROBE " + json.dumps({"errors": bag.import_errors, "dags": sorted(bag.dags), "cpu": cpu, "wall": wall,
                             "heavy": heavy}))
"""


def test_242_dags_of_20_partners_parse_within_two_seconds_from_local_files_only(tmp_path):
    home = provision(tmp_path / "parties", ["KHM"], [])["KHM"]
    made = generate(home, tmp_path / "contracts", partners=20, outbound=10, inbound=1)
    assert len(made.contract_ids) == 220
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCMX_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False", GCMX_PARTY="KHM",
               GCMX_HOME=str(home), GCMX_CONTRACTS=str(made.contracts),
               AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags"),
               # a database nobody can reach: parsing must not need one
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://nobody@192.0.2.1:1/none")
    best = None
    for _ in range(ATTEMPTS):  # the best of a few parses, as a benchmark reports: a load spike is not the code
        done = subprocess.run([sys.executable, "-c", PROBE, str(PROJECT_ROOT / "dags")], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
        assert lines, done.stderr[-4000:]
        probe = json.loads(lines[-1].removeprefix("PROBE "))
        print(f"\n242-DAG parse: {probe['cpu']:.2f} s CPU, {probe['wall']:.2f} s wall, beyond Airflow's import")
        assert probe["errors"] == {}
        outbound = [d for d in probe["dags"] if d.startswith("gcmx_outbound_")]
        assert len(outbound) == 200 and len(probe["dags"]) == 200 + 20 + 20 + 2  # + watch, inbound, receipts, retention
        assert probe["heavy"] == []
        best = min(best or probe["cpu"], probe["cpu"])
        if best <= BOUND:
            break
    assert best <= BOUND


def test_contracts_not_in_force_get_no_dag_among_many(tmp_path):
    """An agreement file missing (one partner has not signed one contract): that DAG alone is absent."""
    home = provision(tmp_path / "parties", ["KHM"], [])["KHM"]
    made = generate(home, tmp_path / "contracts", partners=3, outbound=2, inbound=1)
    unsigned = made.contract_ids[0]
    for path in (home / "agreements").glob(f"{unsigned}@*.{made.partners[0]}.minisig"):
        path.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCMX_", "AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False", GCMX_PARTY="KHM",
               GCMX_HOME=str(home), GCMX_CONTRACTS=str(made.contracts))
    done = subprocess.run([sys.executable, "-c", PROBE, str(PROJECT_ROOT / "dags")], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    probe = json.loads([line for line in done.stdout.splitlines() if line.startswith("PROBE ")][-1][6:])
    dag_of = "gcmx_outbound_" + unsigned.replace(".", "_").replace("-", "_")
    assert probe["errors"] == {} and dag_of not in probe["dags"]
    assert len([d for d in probe["dags"] if d.startswith("gcmx_outbound_")]) == 5
