"""Benchmark: GX validation (exchange.contract.validation.validate) vs the same checks in pyarrow.compute.

Data: workers_registered-shaped *record* data (~20 columns), 1M and 10M rows by default
(``python bench/validate.py 1000000`` for other sizes). Each measurement runs in a fresh
child process so peak RSS is its own. Prints time, ratio and peak RSS vs the Arrow table:
the whole process's peak, and the validation's own peak above what the process held once
GX was ready (interpreter, GX import and context: a fixed cost, the same at any size).
Goal (issue 13): GX's own peak RSS <= 3x the Arrow table at 1M rows.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRACT_ID = "workers_registered_records.tha-khm"
RSS_GOAL = 3.0


def _generator():
    from exchange.devkit import contract_generator

    return contract_generator


def write_contract(workdir: Path) -> Path:
    """A record-level workers_registered contract (20 columns) and its derived suite."""
    from exchange.contract.model import columns_from_document
    from exchange.contract.suite import suite_document

    g = _generator()
    c = g.column
    columns = [
        c("period", pattern=g.MONTH_PATTERN),
        c("person_id", unique=True),
        c("ref_area", codelist="CL_AREA", values=["THA"]),
        c("counterpart_area", codelist="CL_AREA", values=["KHM"]),
        c("sex", codelist="CL_SEX", values=["F", "M", "_U"]),
        c("age_group", codelist="CL_AGE", values=g.WORKER_AGES),
        c("sector", codelist="CL_ISIC4_SECTION", values=g.ISIC),
        c("province", codelist="CL_KH_PROVINCE", values=g.PROVINCES),
        c("documentation_status", codelist="CL_DOC_STATUS", values=["DOC", "IRR", "PEN"]),
        c("health_coverage", codelist="CL_HEALTH_COVERAGE", values=["SSF", "MHI", "PRV", "NONE", "_U"]),
        c("channel", codelist="CL_DEPLOYMENT_CHANNEL", values=["G2G", "MOU", "IND"]),
        c("previous_sector", codelist="CL_ISIC4_SECTION", values=g.ISIC, nullable=True),
        c("age", "integer", minimum=18, maximum=80),
        c("months_in_destination", "integer", minimum=0, maximum=120),
        c("dependants", "integer", minimum=0, maximum=12),
        c("hours_per_week", "integer", minimum=1, maximum=84),
        c("employer_changes", "integer", minimum=0, maximum=20),
        c("health_insured", "boolean"),
        c("has_work_permit", "boolean"),
        c("remitted_last_month", "boolean"),
    ]
    disclosure = {
        "method": "records",
        "quasiIdentifiers": ["sex", "age_group", "province"],
        "k": 5,
        "hierarchies": {},
        "pseudonymise": ["person_id"],
    }
    doc = g.document(
        "workers_registered_records",
        "THA",
        "KHM",
        "Workers registered (records)",
        "personal",
        "labour",
        columns,
        disclosure,
    )
    (workdir / "contracts").mkdir(exist_ok=True)
    (workdir / "expectations").mkdir(exist_ok=True)
    path = workdir / "contracts" / f"{CONTRACT_ID}.odcs.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    suite = suite_document(doc["id"], doc["version"], columns_from_document(doc))
    (workdir / "expectations" / f"{CONTRACT_ID}-{doc['version']}.json").write_text(json.dumps(suite))
    return path


def pyarrow_checks(parquet: Path, contract) -> bool:
    """The suite's checks written directly with pyarrow.compute."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    kinds = {"string": pa.types.is_string, "integer": pa.types.is_integer, "boolean": pa.types.is_boolean}
    ok = table.num_rows >= 1 and set(table.column_names) == set(contract.columns)
    for name, column in contract.columns.items():
        values = table.column(name)
        ok &= kinds[column.type](values.type)
        if not column.nullable:
            ok &= values.null_count == 0
        if column.codelist is not None:
            ok &= pc.sum(pc.invert(pc.is_in(values, pa.array(column.codelist)))).as_py() in (None, 0)
        if column.minimum is not None:
            ok &= (
                pc.sum(pc.or_(pc.less(values, column.minimum), pc.greater(values, column.maximum))).as_py()
                == 0
            )
        if column.pattern is not None:
            ok &= pc.all(pc.match_substring_regex(values, column.pattern)).as_py()
        if column.unique:
            ok &= pc.count_distinct(values).as_py() == len(values) - values.null_count
    return bool(ok)


def memory(field: str) -> int:
    """This process's ``VmRSS`` (now) or ``VmHWM`` (peak) in bytes. Not ``ru_maxrss``: a child
    starts with its parent's peak at fork, here the parent holding the table it measured."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(kind: str, workdir: Path, parquet: Path) -> None:
    """Child process: run one validation, print seconds, success and peak RSS (bytes)."""
    from exchange.contract.model import load_contract_file

    contract = load_contract_file(
        workdir / "contracts" / f"{CONTRACT_ID}.odcs.yaml", workdir / "expectations"
    )
    if kind == "gx":
        from exchange.contract.validation import gx_context, validate

        gx_context()  # GX import and context set-up are not per-file costs
        ready = memory("VmRSS")
        start = time.perf_counter()
        success = validate(parquet, contract).success
    else:
        ready = memory("VmRSS")
        start = time.perf_counter()
        success = pyarrow_checks(parquet, contract)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "success": success,
                "peak_rss": memory("VmHWM"),
                "ready_rss": ready,
            }
        )
    )


def run(kind: str, workdir: Path, parquet: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(workdir), str(parquet)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(sizes: list[int]) -> None:
    import pyarrow.parquet as pq

    from exchange.contract.model import load_contract_file
    from exchange.devkit.synthetic import write_dataset

    with tempfile.TemporaryDirectory(prefix="gcmx-bench-") as tmp:
        workdir = Path(tmp)
        contract = load_contract_file(write_contract(workdir), workdir / "expectations")
        header = ("rows", "GX s", "pyarrow s", "ratio", "arrow MB", "GX peak MB", "RSS/arrow", "GX ready MB",
                  "own/arrow", "goal")
        print("".join(f"{h:>12}" for h in header))
        missed = []
        for rows in sizes:
            parquet = write_dataset(contract, workdir / f"data-{rows}.parquet", "2025-03", rows=rows, seed=1)
            arrow_bytes = pq.read_table(parquet).nbytes
            gx, arrow = run("gx", workdir, parquet), run("pyarrow", workdir, parquet)
            assert gx["success"] and arrow["success"], (gx, arrow)
            ratio, peak, ready = gx["seconds"] / arrow["seconds"], gx["peak_rss"], gx["ready_rss"]
            own = (peak - ready) / arrow_bytes  # what validating this file added to the process
            verdict = f"<= {RSS_GOAL}x " + ("met" if own <= RSS_GOAL else "MISSED")
            if own > RSS_GOAL:
                missed.append(f"GX own peak RSS at {rows:,} rows: {own:.2f}x")
            print(
                f"{rows:>12,}{gx['seconds']:>12.2f}{arrow['seconds']:>12.2f}{ratio:>12.2f}"
                f"{arrow_bytes / 2**20:>12.0f}{peak / 2**20:>12.0f}{peak / arrow_bytes:>12.2f}"
                f"{ready / 2**20:>12.0f}{own:>12.2f}  {verdict}"
            )
            parquet.unlink()
        print("\ngoals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        measure(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main([int(a) for a in sys.argv[1:]] or [1_000_000, 10_000_000])
