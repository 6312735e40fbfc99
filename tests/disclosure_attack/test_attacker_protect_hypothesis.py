"""``protect()`` on hypothesis-generated small tables, attacked by the independent recipient.

Needs the publication rule of the shared spec: the d-agg branch of exchange/disclosure/.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.disclosure import protect
from tests.disclosure_attack.attacker import breaches
from tests.disclosure_attack.publication import publication_problems
from tests.disclosure_attack.tables import (
    AGE_LEAVES,
    AGE_SUBTOTALS,
    CARE,
    DOC,
    SCHOOL,
    aggregate_rules,
    cross_table,
)

POOLS = {"care_situation": CARE, "documentation_status": DOC, "school_enrolment": SCHOOL,
         "age_group": AGE_LEAVES}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def small_tables(draw):
    """2-D or 3-D, 2-4 codes per dimension, counts 0-30 (often small), rules drawn too."""
    names = draw(st.permutations(sorted(POOLS)))[:draw(st.integers(2, 3))]
    leaves = {}
    for name in names:
        size = draw(st.integers(2, 4))
        leaves[name] = AGE_LEAVES if name == "age_group" and size == 4 else POOLS[name][:size]
    shape = tuple(len(v) for v in leaves.values())
    cells = int(np.prod(shape))
    counts = draw(st.lists(st.one_of(st.integers(0, 4), st.integers(0, 30)),
                           min_size=cells, max_size=cells))
    k = draw(st.integers(3, 6))
    lower, upper = draw(st.integers(1, k)), draw(st.integers(1, k))
    subtotals = {"age_group": AGE_SUBTOTALS} if "age_group" in leaves and \
        leaves["age_group"] is AGE_LEAVES else None
    table = cross_table(leaves, np.array(counts).reshape(shape), subtotals=subtotals)
    return table, aggregate_rules(names, k=k, lower=lower, upper=upper, subtotals=subtotals)


@SETTINGS
@given(small_tables())
def test_partner_with_margins_and_hierarchy_cannot_narrow_a_primary_cell_of_any_small_table(case):
    table, rules = case
    published, _ = protect(table, rules)
    assert publication_problems(table, published, rules) == []
    assert [str(b) for b in breaches(table, published, rules)] == []
