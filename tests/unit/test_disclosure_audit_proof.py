"""The proving audit gives, cell by cell, the verdict of a plain per-cell exact LP.

The audit (exchange/disclosure/attack.py) proves the protection levels with a few
programs and solves a cell's own program only when no feasible table found reaches its
target. The reference here is the independent attacker of tests/disclosure_attack
(one scipy LP per bound of every suppressed cell). Suppression patterns are random
(many verdicts fail, many pass) on every generated shape: sparse, zero-heavy, no grand
total, hierarchy subtotals, several periods, earlier releases; and hypothesis tables.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.disclosure import audit_table, protect
from exchange.disclosure.attack import lp_count
from tests.disclosure_attack.attacker import TableRules, attack, known_from_earlier, read_cells
from tests.disclosure_attack.tables import (
    AGE_LEAVES,
    AGE_SUBTOTALS,
    CARE,
    DOC,
    SEX,
    SHAPES,
    aggregate_rules,
    cross_table,
    publish,
    revise,
)

TOL = 1e-6


def _no_grand_total(seed: int) -> tuple[pa.Table, dict]:
    rng = np.random.default_rng(seed)
    leaves = {"care_situation": CARE, "sex": SEX}
    return (cross_table(leaves, rng.poisson(4.0, size=(4, 3)), totals=["sex"]),
            aggregate_rules(list(leaves)))


SHAPES_HERE = {**SHAPES, "no_grand_total": _no_grand_total}


def _hide(truth: pa.Table, rules: dict, fraction: float, seed: int) -> tuple[pa.Table, list]:
    """Suppress every primary cell and a random ``fraction`` of the others."""
    parsed = TableRules.of(rules)
    rng = np.random.default_rng(seed)
    cells = read_cells(truth, parsed)
    hidden = [key for key, cell in cells.items()
              if parsed.is_primary(cell.value) or rng.random() < fraction]
    return publish(truth, rules, hidden), list(cells)


def _needs_met(lo: float, hi: float, x: int, parsed: TableRules) -> bool:
    return lo <= x - min(parsed.lower, x) + TOL and hi >= x + parsed.upper - TOL


def _worst_case_ok(lo: float, hi: float, parsed: TableRules) -> bool:
    """Without the truth: every value 1..k-1 the interval admits must meet the levels."""
    values = [v for v in range(1, parsed.k) if lo - TOL <= v <= hi + TOL]
    return all(_needs_met(lo, hi, v, parsed) for v in values)


def assert_same_verdicts(truth: pa.Table, published: pa.Table, rules: dict,
                         earlier: list[pa.Table] | None = None) -> tuple[int, int]:
    """Fast audit == per-cell exact LP, cell by cell; returns (passed, failed) counts."""
    earlier = earlier or []
    parsed = TableRules.of(rules)
    keys = list(read_cells(published, parsed))
    known = known_from_earlier(earlier, truth, parsed)
    exact = {k: v for k, v in attack(published, parsed, known).items() if k not in known}
    truth_values = truth.column(parsed.count).to_pylist()
    verdict = audit_table(published, rules, original=truth, earlier=earlier)
    # without the truth, the earlier cells still valid are unknown: judged without them
    blind = audit_table(published, rules) if not earlier else verdict
    assert {c.row for c in verdict.cells} == {keys.index(k) for k in exact}
    outcome = [0, 0]
    for cell, blind_cell in zip(verdict.cells, blind.cells, strict=True):
        lo, hi = exact[keys[cell.row]]
        x = truth_values[cell.row]
        expected = not parsed.is_primary(x) or _needs_met(lo, hi, x, parsed)
        assert cell.ok == expected, (keys[cell.row], x, (lo, hi), (cell.lo, cell.hi))
        if not earlier:
            assert blind_cell.ok == _worst_case_ok(lo, hi, parsed), (keys[cell.row], (lo, hi))
        outcome[expected] += parsed.is_primary(x)
        for found in (cell, blind_cell):  # a proven end is a value some table has
            for end in (found.lo, found.hi):
                if not math.isnan(end):
                    assert lo - TOL <= end <= hi + TOL or end == hi == math.inf
    return outcome[1], outcome[0]


@pytest.mark.parametrize("fraction", [0.0, 0.4, 0.9])
@pytest.mark.parametrize("shape", sorted(SHAPES_HERE))
def test_proof_gives_the_per_cell_lp_verdict_on_every_shape(shape, fraction):
    totals = [0, 0]
    for seed in range(2):
        truth, rules = SHAPES_HERE[shape](seed)
        published, _ = _hide(truth, rules, fraction, seed)
        passed, failed = assert_same_verdicts(truth, published, rules)
        totals[0] += passed
        totals[1] += failed
    assert sum(totals) > 0


def test_proof_gives_the_per_cell_lp_verdict_on_protected_tables():
    for shape in sorted(SHAPES_HERE):
        truth, rules = SHAPES_HERE[shape](4)
        published, _ = protect(truth, rules)
        passed, failed = assert_same_verdicts(truth, published, rules)
        assert failed == 0 and passed > 0


def test_patterns_exercise_both_verdicts():
    """The random patterns above are not all safe or all unsafe."""
    totals = np.zeros(2, dtype=int)
    for shape in sorted(SHAPES_HERE):
        truth, rules = SHAPES_HERE[shape](1)
        totals += assert_same_verdicts(truth, _hide(truth, rules, 0.5, 1)[0], rules)
    assert totals.min() > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_proof_gives_the_per_cell_lp_verdict_with_earlier_releases(seed):
    rng = np.random.default_rng(seed)
    leaves = {"age_group": AGE_LEAVES, "sex": SEX[:2], "care_situation": CARE[:3]}
    subtotals = {"age_group": AGE_SUBTOTALS}
    counts = rng.poisson(rng.gamma(1.2, 5.0, size=(4, 2, 3)))
    rules = aggregate_rules(list(leaves), subtotals=subtotals)
    truth1 = cross_table(leaves, counts, subtotals=subtotals)
    release1, _ = _hide(truth1, rules, 0.3, seed)
    changes = {tuple(int(rng.integers(0, n)) for n in counts.shape): int(rng.integers(0, 12))
               for _ in range(3)}
    _, truth2 = revise(truth1, leaves, counts, changes, subtotals=subtotals)
    release2, _ = _hide(truth2, rules, 0.6, seed + 1)
    assert_same_verdicts(truth2, release2, rules, [release1])
    safe1, _ = protect(truth1, rules)
    protected, _ = protect(truth2, rules, earlier=[safe1])
    assert assert_same_verdicts(truth2, protected, rules, [safe1])[1] == 0


def test_proof_gives_the_per_cell_lp_verdict_on_several_periods_with_an_earlier_release():
    rng = np.random.default_rng(3)
    leaves = {"sex": SEX, "care_situation": CARE}
    counts = [rng.poisson(rng.gamma(1.3, 5.0, size=(3, 4))) for _ in range(3)]
    rules = aggregate_rules(list(leaves))

    def periods(blocks):
        return pa.concat_tables([cross_table(leaves, c, keys={"period": f"2025-0{m + 1}"})
                                 for m, c in enumerate(blocks)])

    truth1 = periods(counts)
    release1, _ = _hide(truth1, rules, 0.3, 3)
    counts[1][0, 0] += 2
    truth2 = periods(counts)
    assert_same_verdicts(truth2, _hide(truth2, rules, 0.5, 4)[0], rules, [release1])


@st.composite
def small_tables(draw):
    """2-D or 3-D, 2-4 codes per dimension, counts often small, levels and hiding drawn."""
    pools = {"care_situation": CARE, "documentation_status": DOC, "sex": SEX,
             "age_group": AGE_LEAVES}
    names = draw(st.permutations(sorted(pools)))[:draw(st.integers(2, 3))]
    leaves = {n: pools[n][:draw(st.integers(2, len(pools[n])))] for n in names}
    shape = tuple(len(v) for v in leaves.values())
    cells = int(np.prod(shape))
    counts = draw(st.lists(st.one_of(st.integers(0, 4), st.integers(0, 30)),
                           min_size=cells, max_size=cells))
    k = draw(st.integers(3, 6))
    subtotals = ({"age_group": AGE_SUBTOTALS}
                 if leaves.get("age_group") == AGE_LEAVES and draw(st.booleans()) else None)
    totals = names if draw(st.booleans()) else names[1:]
    truth = cross_table(leaves, np.array(counts).reshape(shape), subtotals=subtotals,
                        totals=totals)
    rules = aggregate_rules(names, k=k, lower=draw(st.integers(1, k)),
                            upper=draw(st.integers(1, k)), subtotals=subtotals)
    fraction = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    return truth, rules, fraction, draw(st.integers(0, 1000))


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(small_tables())
def test_proof_gives_the_per_cell_lp_verdict_on_any_small_table(case):
    truth, rules, fraction, seed = case
    assert_same_verdicts(truth, _hide(truth, rules, fraction, seed)[0], rules)


def test_proof_needs_few_programs_for_many_cells():
    """A 3-D table suppressed almost whole: far fewer programs than suppressed cells."""
    rng = np.random.default_rng(9)
    leaves = {"care_situation": CARE, "documentation_status": DOC, "sex": SEX}
    truth = cross_table(leaves, rng.poisson(3.0, size=(4, 4, 3)))
    rules = aggregate_rules(list(leaves))
    published, cells = _hide(truth, rules, 0.9, 9)
    before = lp_count()
    verdict = audit_table(published, rules, original=truth)
    spent = lp_count() - before
    assert len(verdict.cells) > 60 and spent * 5 < len(verdict.cells)
