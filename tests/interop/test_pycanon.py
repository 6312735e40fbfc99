"""pycanon, the peer library for k-anonymity and l-diversity, measures our protected records
as we do. It runs in its own venv (`make install` makes `.venv-pycanon`): its pins of numpy
and pandas conflict with Airflow's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from exchange.disclosure import protect
from tests.unit.test_disclosure_privacy import KEY, QIS, RULES, returnees

PYTHON = Path(__file__).resolve().parents[2] / ".venv-pycanon" / "bin" / "python"
MEASURE = """
import json, sys
import pandas as pd
from pycanon import anonymity
frame = pd.read_parquet(sys.argv[1]).astype(object).fillna("*")
qis, sensitive = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(json.dumps([int(anonymity.k_anonymity(frame, qis)),
                  int(anonymity.l_diversity(frame, qis, sensitive))]))
"""


@pytest.mark.parametrize("seed", [3, 4])
def test_our_measure_agrees_with_pycanon(tmp_path, seed):
    assert PYTHON.exists(), "pycanon's venv is missing: run `make install`"
    out, report = protect(returnees(800, seed), RULES, KEY)
    path = tmp_path / "protected.parquet"
    pq.write_table(out, path)
    qis = ["period", *QIS]
    done = subprocess.run([str(PYTHON), "-c", MEASURE, str(path), json.dumps(qis), json.dumps(["return_reason"])],
                          capture_output=True, text=True, timeout=300, check=True)
    k, ell = json.loads(done.stdout.strip().splitlines()[-1])
    assert (k, ell) == (report.k_reached, report.privacy["lReached"])
    assert k >= 5 and ell >= 2
