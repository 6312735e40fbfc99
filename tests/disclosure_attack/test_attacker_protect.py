"""``protect()`` attacked by the independent recipient, on generated shapes and contracts.

Needs the publication rule of the shared spec (protectionLevels, subtotals, ``earlier=``,
C-only flags, protectable zeros): the d-agg branch of exchange/disclosure/.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from exchange.disclosure import protect
from exchange.errors import DisclosureError
from tests.disclosure_attack.attacker import breaches
from tests.disclosure_attack.publication import publication_problems
from tests.disclosure_attack.tables import (
    AGE_LEAVES,
    AGE_SUBTOTALS,
    CARE,
    SEX,
    SHAPES,
    aggregate_rules,
    cross_table,
    revise,
)

SEEDS = (0, 1)


def assert_protected(truth: pa.Table, published: pa.Table, rules: dict,
                     earlier: list[pa.Table] | None = None) -> None:
    """The publication follows spec rules 1-3 and no primary cell breaks rule 5."""
    assert publication_problems(truth, published, rules) == []
    assert [str(b) for b in breaches(truth, published, rules, earlier or [])] == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_partner_with_margins_and_hierarchy_cannot_narrow_a_primary_cell(shape, seed):
    table, rules = SHAPES[shape](seed)
    published, _ = protect(table, rules)
    assert_protected(table, published, rules)


def _hierarchy_release(seed: int):
    rng = np.random.default_rng(seed)
    leaves = {"age_group": AGE_LEAVES, "sex": SEX[:2], "care_situation": CARE[:3]}
    subtotals = {"age_group": AGE_SUBTOTALS}
    counts = rng.poisson(rng.gamma(1.2, 5.0, size=(4, 2, 3)))
    rules = aggregate_rules(list(leaves), subtotals=subtotals)
    return leaves, counts, subtotals, rules, cross_table(leaves, counts, subtotals=subtotals)


@pytest.mark.parametrize("seed", SEEDS)
def test_partner_knowing_earlier_releases_cannot_narrow_a_primary_cell_of_a_revision(seed):
    leaves, counts, subtotals, rules, truth1 = _hierarchy_release(seed)
    release1, _ = protect(truth1, rules)
    assert_protected(truth1, release1, rules)
    rng = np.random.default_rng(seed + 100)
    changes = {tuple(int(rng.integers(0, n)) for n in counts.shape): int(rng.integers(0, 12))
               for _ in range(3)}
    counts2, truth2 = revise(truth1, leaves, counts, changes, subtotals=subtotals)
    release2, _ = protect(truth2, rules, earlier=[release1])
    assert_protected(truth2, release2, rules, [release1])
    _, truth3 = revise(truth2, leaves, counts2, {(0, 0, 0): int(counts2[0, 0, 0]) + 1},
                       subtotals=subtotals)
    release3, _ = protect(truth3, rules, earlier=[release1, release2])
    assert_protected(truth3, release3, rules, [release1, release2])


def _periods(leaves: dict, counts: list[np.ndarray]) -> pa.Table:
    return pa.concat_tables([cross_table(leaves, c, keys={"period": f"2025-0{m + 1}", "ref_area": "KHM"})
                             for m, c in enumerate(counts)])


def test_partner_knowing_the_earlier_release_of_a_multi_period_table():
    rng = np.random.default_rng(3)
    leaves = {"sex": SEX, "care_situation": CARE}
    counts = [rng.poisson(rng.gamma(1.3, 5.0, size=(3, 4))) for _ in range(3)]
    rules = aggregate_rules(list(leaves))
    truth1 = _periods(leaves, counts)
    release1, _ = protect(truth1, rules)
    revised = [c.copy() for c in counts]
    revised[1][0, 0] += 2  # period 2 is revised, periods 1 and 3 are sent again unchanged
    truth2 = _periods(leaves, revised)
    release2, _ = protect(truth2, rules, earlier=[release1])
    assert_protected(truth2, release2, rules, [release1])


def test_partner_with_margins_on_a_table_without_a_total_for_one_dimension():
    """Spec rule 1 says inputs carry every margin; protect may reject this one, or must
    protect it against the margins it does carry (like care_situation, whose code list has
    no _T, in children_on_the_move)."""
    rng = np.random.default_rng(7)
    leaves = {"care_situation": CARE, "sex": SEX}
    table = cross_table(leaves, rng.poisson(4.0, size=(4, 3)), totals=["sex"])
    rules = aggregate_rules(list(leaves))
    try:
        published, _ = protect(table, rules)
    except DisclosureError:
        return
    assert_protected(table, published, rules)


def test_partner_taking_a_missing_combination_as_a_structural_zero():
    """Spec rule 1: protect fills a missing combination with 0 or rejects the input."""
    table, rules = SHAPES["zero_heavy"](2)
    zero_leaf = pc.and_(pc.equal(table.column("children"), 0),
                        pc.and_(pc.not_equal(table.column("care_situation"), "_T"),
                                pc.not_equal(table.column("documentation_status"), "_T")))
    assert pc.any(zero_leaf).as_py()
    incomplete = table.filter(pc.invert(zero_leaf))
    try:
        published, _ = protect(incomplete, rules)
    except DisclosureError:
        return
    assert_protected(incomplete, published, rules)
