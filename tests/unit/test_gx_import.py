"""GX is imported without scipy.stats, Altair and SQLAlchemy up front, and still validates (fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from pathlib import Path
from exchange.contract.model import load_contract
from exchange.contract.validation import gx_context, validate
from exchange.devkit.synthetic import write_dataset

gx_context()
after_import = {name: name in sys.modules and type(sys.modules[name]).__name__ != "_OnFirstUse"
                for name in ("scipy.stats", "altair", "sqlalchemy")}
contract = load_contract("returnees.tha-khm")
path = write_dataset(contract, Path(sys.argv[1]) / "data.parquet", "2026-10", rows=500, seed=3)
report = validate(path, contract, form="raw")
from scipy import stats  # a later use of scipy.stats gets the real module
import sqlalchemy  # and SQLAlchemy can still be imported afterwards
import altair.vegalite  # a submodule of a deferred package: the package loads first
print(json.dumps({"loaded": after_import, "success": report.success, "cdf": float(stats.norm.cdf(0)),
                  "sqlalchemy": bool(sqlalchemy.__version__), "finders": [type(f).__name__ for f in sys.meta_path]}))
"""


def test_gx_is_imported_without_scipy_stats_altair_and_sqlalchemy_and_still_validates(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                          check=True, cwd=ROOT, timeout=300)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["loaded"] == {"scipy.stats": False, "altair": False, "sqlalchemy": False}
    assert seen["success"] is True
    assert seen["cdf"] == 0.5 and seen["sqlalchemy"]
    assert "_Absent" not in seen["finders"]


def test_a_process_that_has_them_keeps_them(tmp_path):
    code = ("import sys, scipy.stats, sqlalchemy\n"
            "from exchange.contract.gx_import import import_great_expectations\n"
            "gx = import_great_expectations()\n"
            "print(type(sys.modules['scipy.stats']).__name__, gx.compatibility.sqlalchemy.sqlalchemy is sqlalchemy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          timeout=300)
    assert done.stdout.split() == ["module", "True"]
