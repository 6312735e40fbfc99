"""Benchmark disclosure control: cell suppression on ~100k cells, k-anonymity with
l-diversity on 1M records, keyed pseudonyms for 10M identifiers.

Run: ``.venv/bin/python bench/protect.py [--scale 0.1] [--case NAME]``. Each case runs
in its own process (peak RSS from os.wait4, see _util.py). Goal: suppression,
k-anonymity + l-diversity and 10M pseudonyms each < 10 s at full size. Records cases
print a ratio against a floor measured in the same run (a pyarrow group-by count of
the classes; a plain unkeyed SHA-256 loop over the identifiers). The LP audit (an
attacker's proof, slower by nature) runs on one province and period of the same table
(~1.8k cells).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from _util import report, run_measured

ROOT = Path(__file__).resolve().parents[1]

SEX = ["F", "M"]
AGES = ["Y0T4", "Y5T9", "Y10T14", "Y15T17", "Y18T24", "Y25T29", "Y30T34", "Y35T39",
        "Y40T44", "Y45T49", "Y50T54", "Y55T64", "Y_GE65"]
PROVINCES = [f"KH-{i}" for i in range(1, 26)]
SECTORS = list("ABCDEFGHIJKLMNOPQRSTU")


def frequency_table(periods: int, provinces: int, seed: int = 7) -> pa.Table:
    """A workers_deployed-like table: period x province x age x sex x sector, all margins."""
    rng = np.random.default_rng(seed)
    dims = [PROVINCES[:provinces], AGES, SEX, SECTORS]
    shape = tuple(len(d) for d in dims)
    columns: dict[str, list] = {"period": [], "province": [], "age_group": [], "sex": [],
                                "sector": [], "count": []}
    for p in range(periods):
        means = rng.lognormal(mean=1.2, sigma=1.3, size=shape)
        base = rng.poisson(means)
        full = base
        for axis in range(len(shape)):  # append the total slot along each axis
            full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
        labels = [d + ["_T"] for d in dims]
        for index in itertools.product(*(range(len(lab)) for lab in labels)):
            columns["period"].append(f"2025-{p + 1:02d}")
            for name, lab, i in zip(("province", "age_group", "sex", "sector"), labels, index,
                                    strict=True):
                columns[name].append(lab[i])
            columns["count"].append(int(full[index]))
    columns["count"] = pa.array(columns["count"], pa.int64())
    return pa.table(columns)


def identifiers(n: int) -> pa.Array:
    """``n`` distinct identifiers P0, P1, ... (Arrow strings)."""
    import pyarrow.compute as pc
    return pc.binary_join_element_wise("P", pc.cast(pa.array(np.arange(n)), pa.string()), "")


def record_table(n: int, seed: int = 11) -> pa.Table:
    """Records of migrant children: an identifier, a period, four quasi-identifiers and a
    sensitive attribute (return reason)."""
    rng = np.random.default_rng(seed)
    weights = np.arange(1, 26) ** -1.2
    return pa.table({
        "period": pa.array(np.full(n, "2025-03")),
        "person_id": identifiers(n),
        "sex": pa.array(rng.choice(SEX, n)),
        "age_band": pa.array(rng.choice(AGES[:4], n, p=[0.35, 0.3, 0.2, 0.15])),
        "province": pa.array(rng.choice(PROVINCES, n, p=weights / weights.sum())),
        "nationality": pa.array(rng.choice(["KHM", "THA", "MMR", "LAO", "VNM"], n,
                                           p=[0.9, 0.04, 0.03, 0.02, 0.01])),
        "return_reason": pa.array(rng.choice(["DEP", "VOL", "END", "TIP", "OTH"], n,
                                             p=[0.5, 0.3, 0.1, 0.05, 0.05])),
    })


RECORD_RULES = {
    "method": "records", "quasiIdentifiers": ["sex", "age_band", "province", "nationality"],
    "k": 5,
    "hierarchies": {
        "age_band": [{"Y0T4": "Y0T9", "Y5T9": "Y0T9", "Y10T14": "Y10T17", "Y15T17": "Y10T17"},
                     {"Y0T9": "Y0T17", "Y10T17": "Y0T17"}],
        "province": [{p: ("KH-NW" if i % 2 else "KH-SE") for i, p in enumerate(PROVINCES)}]},
    "sensitiveAttributes": ["return_reason"], "lDiversity": 2,
}
PSEUDONYMS = 10_000_000
AGGREGATE_RULES = {"method": "aggregate", "countColumn": "count",
                   "dimensions": ["province", "age_group", "sex", "sector"],
                   "minimumCellSize": 5, "protectionInterval": 5}


def _suppression(scale: float) -> dict:
    from exchange.disclosure import protect
    table = frequency_table(periods=4, provinces=max(2, round(25 * scale)))
    start = time.perf_counter()
    _, report = protect(table, AGGREGATE_RULES, audit=False)
    r = report.to_dict()
    return {"seconds": time.perf_counter() - start,
            "label": f"suppression {table.num_rows} cells (4-D + margins)",
            "detail": f"primary {r['cellsPrimarySuppressed']}, "
                      f"secondary {r['cellsSecondarySuppressed']}"}


def _audit(scale: float) -> dict:
    from exchange.disclosure import audit_table, protect
    table = frequency_table(periods=1, provinces=1)  # the LP proof: one small period
    protected, _ = protect(table, AGGREGATE_RULES, audit=False)
    start = time.perf_counter()
    verdict = audit_table(protected, AGGREGATE_RULES, exact=False)
    return {"seconds": time.perf_counter() - start,
            "label": f"LP audit (proof) {table.num_rows} cells",
            "detail": f"{len(verdict.cells)} suppressed cells, ok={verdict.ok}"}


def _kanon(scale: float) -> dict:
    from exchange.disclosure import protect
    table = record_table(max(1000, int(1_000_000 * scale)))
    start = time.perf_counter()
    _, report = protect(table, RECORD_RULES)
    r = report.to_dict()
    return {"seconds": time.perf_counter() - start,
            "label": f"k-anon. + l-div. {table.num_rows} records",
            "detail": f"k {r['kReached']}, l {r['privacy']['lReached']}, suppressed "
                      f"{r['valuesSuppressed']} values, loss {r['informationLoss']:.5f}"}


def _kanon_floor(scale: float) -> dict:
    """Floor: one pyarrow group-by count over period + the quasi-identifiers (measuring k)."""
    table = record_table(max(1000, int(1_000_000 * scale)))
    keys = ["period", *RECORD_RULES["quasiIdentifiers"]]
    start = time.perf_counter()
    sizes = table.group_by(keys, use_threads=False).aggregate([([], "count_all")])
    smallest = min(sizes.column("count_all").to_pylist())
    return {"seconds": time.perf_counter() - start,
            "label": f"floor: group-by count {table.num_rows} records",
            "detail": f"{sizes.num_rows} classes, smallest {smallest}"}


def _pseudonyms(scale: float) -> dict:
    from exchange.disclosure import pseudonymise
    values = identifiers(max(1000, int(PSEUDONYMS * scale)))
    start = time.perf_counter()
    pseudonymise(values, b"\x01" * 32, "returnees.tha-khm/2025-03/person_id")
    return {"seconds": time.perf_counter() - start,
            "label": f"pseudonymise {len(values)} identifiers",
            "detail": "2 x AES-CMAC (gcmx/pseudonym/v3), vectorised"}


def _pseudonyms_floor(scale: float) -> dict:
    """Floor: plain (unkeyed) SHA-256 of each identifier in one Python loop, digests only."""
    import hashlib
    values = identifiers(max(1000, int(PSEUDONYMS * scale))).to_pylist()
    start = time.perf_counter()
    sha = hashlib.sha256
    digests = [sha(v.encode()).digest() for v in values]
    return {"seconds": time.perf_counter() - start,
            "label": f"floor: sha256 loop {len(digests)} identifiers",
            "detail": "hashlib, one process, no key, no hex"}


CASES = {"suppression": _suppression, "kanon": _kanon, "kanon_floor": _kanon_floor,
         "pseudonyms": _pseudonyms, "pseudonyms_floor": _pseudonyms_floor, "audit": _audit}
GOALS = {"suppression": 10.0, "kanon": 10.0, "pseudonyms": 10.0}
RATIOS = {"kanon": "kanon_floor", "pseudonyms": "pseudonyms_floor"}  # ours: its floor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of full size")
    parser.add_argument("--case", choices=sorted(CASES), action="append",
                        help="run only this case (repeatable)")
    parser.add_argument("--child", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # inside the measured process
        sys.path.insert(0, str(ROOT))
        report(**CASES[args.child](args.scale))
        return 0
    print(f"{'case':44} {'seconds':>8} {'peak MiB':>9}  {'goal':>6}  detail")
    slow = False
    measured = {}
    for name in args.case or CASES:
        m = run_measured([sys.executable, __file__, "--child", name,
                          "--scale", str(args.scale)])
        goal = GOALS.get(name)
        slow |= goal is not None and m.seconds >= goal
        measured[name] = m
        print(f"{m.report['label']:44} {m.seconds:8.2f} {m.peak_rss_mb:9.0f}  "
              f"{f'<{goal:.0f} s' if goal else '-':>6}  {m.report['detail']}")
    pairs = [(ours, floor) for ours, floor in RATIOS.items()
             if ours in measured and floor in measured]
    if pairs:
        print(f"\n{'ours vs floor':44} {'ours s':>8} {'floor s':>8} {'ratio':>6}")
    for ours, floor in pairs:
        a, b = measured[ours].seconds, measured[floor].seconds
        print(f"{measured[ours].report['label']:44} {a:8.2f} {b:8.2f} {a / b:6.2f}")
    return 1 if slow and args.scale >= 1 else 0


if __name__ == "__main__":
    sys.exit(main())
