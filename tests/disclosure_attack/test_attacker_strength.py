"""The independent attacker itself: exact on hand-built tables, and strong enough to find
the leaks issue 12 reported, on publications built by hand (not by ``protect``)."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from tests.disclosure_attack.attacker import (
    AttackError,
    Knowledge,
    TableRules,
    attack,
    breaches,
    cube_codes,
    cubes,
    margin_equations,
    read_cells,
)
from tests.disclosure_attack.publication import publication_problems
from tests.disclosure_attack.tables import (
    AGE_LEAVES,
    AGE_SUBTOTALS,
    CARE,
    DOC,
    SEX,
    SHAPES,
    aggregate_rules,
    cross_table,
    key,
    publish,
    revise,
)

LEAVES_3X3 = {"sex": SEX, "care_situation": CARE[:3]}
RULES_3X3 = aggregate_rules(list(LEAVES_3X3), k=5, lower=2, upper=3)
COUNTS_3X3 = np.array([[2, 8, 9], [9, 12, 6], [7, 5, 11]])
RECTANGLE = [key("F", "ACC"), key("F", "UNACC"), key("M", "ACC"), key("M", "UNACC")]


def flat(pairs) -> list[float]:
    """(low, high) pairs as one flat list, for pytest.approx."""
    return [end for pair in pairs for end in pair]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_generated_tables_hold_every_margin_the_attacker_uses(shape):
    table, rules = SHAPES[shape](0)
    parsed = TableRules.of(rules)
    for cells in cubes(table, parsed).values():
        for margin, parts in margin_equations(cube_codes(cells, parsed), parsed, Knowledge()):
            assert cells[margin].value == sum(cells[p].value for p in parts)


def test_partner_with_margins_gets_the_exact_interval_of_a_protected_rectangle():
    truth = cross_table(LEAVES_3X3, COUNTS_3X3)
    published = publish(truth, RULES_3X3, RECTANGLE)
    # the only freedom is the shift t of the rectangle: 2+t, 8-t, 9-t, 12+t >= 0
    found = attack(published, RULES_3X3)
    assert sorted(found) == sorted(RECTANGLE)
    assert flat(found[k] for k in RECTANGLE) == pytest.approx([0, 10, 0, 10, 1, 11, 10, 20])
    assert breaches(truth, published, RULES_3X3) == []
    assert publication_problems(truth, published, RULES_3X3) == []


def test_partner_with_margins_recovers_a_primary_cell_suppressed_alone():
    truth = cross_table(LEAVES_3X3, COUNTS_3X3)
    published = publish(truth, RULES_3X3, [key("F", "ACC")])
    [breach] = breaches(truth, published, RULES_3X3)
    assert (breach.low, breach.high) == pytest.approx((2, 2))


def test_partner_with_margins_pins_a_primary_cell_whose_complement_is_zero():
    counts = COUNTS_3X3.copy()
    counts[0, 1] = 0  # the rectangle's partner in the same row has no room to give
    truth = cross_table(LEAVES_3X3, counts)
    published = publish(truth, RULES_3X3, RECTANGLE)
    [breach] = breaches(truth, published, RULES_3X3)
    assert breach.key == key("F", "ACC") and breach.high == pytest.approx(2)


def test_partner_with_margins_reads_nothing_into_a_suppressed_zero():
    counts = np.array([[2, 8, 9], [9, 0, 6], [7, 5, 11]])
    truth = cross_table(LEAVES_3X3, counts)
    # two rectangles sharing F/ACC; the zero M/UNACC is a complement, only >= 0 is known
    published = publish(truth, RULES_3X3, [key(s, c) for s in SEX for c in ("ACC", "UNACC")])
    assert breaches(truth, published, RULES_3X3) == []
    low, high = attack(published, RULES_3X3)[key("M", "UNACC")]
    assert low == pytest.approx(0) and high > 0


def test_partner_reading_d_flags_recovers_cells_exactly_as_issue_12_reports():
    counts = np.array([[5, 6, 9], [1, 7, 8], [1, 8, 12]])
    truth = cross_table(LEAVES_3X3, counts)
    hidden = [key(s, c) for s in SEX for c in ("ACC", "UNACC")]
    flags = {k: "D" if k in (key("F", "ACC"), key("F", "UNACC"), key("M", "UNACC"),
                             key("_U", "UNACC")) else "C" for k in hidden}
    weak = publish(truth, RULES_3X3, hidden, flags)
    assert breaches(truth, weak, RULES_3X3) == []  # the spec's attacker alone finds nothing
    assert any("flagged M/D" in p for p in publication_problems(truth, weak, RULES_3X3))
    old_rule = Knowledge(zeros_published=True, flag_meaning=True)
    found = attack(weak, RULES_3X3, knowledge=old_rule)
    # column total minus published cells: 7 = D (>= 5) + C (>= 1) + C (>= 1)
    assert flat(found[key(s, "ACC")] for s in SEX) == pytest.approx([5, 5, 1, 1, 1, 1])
    assert {b.key for b in breaches(truth, weak, RULES_3X3, knowledge=old_rule)} == {
        key("M", "ACC"), key("_U", "ACC")}


def test_partner_knowing_zeros_are_published_puts_every_suppressed_cell_above_zero():
    counts = COUNTS_3X3.copy()
    counts[0, 0] = 1
    truth = cross_table(LEAVES_3X3, counts)
    published = publish(truth, RULES_3X3, RECTANGLE)
    assert breaches(truth, published, RULES_3X3) == []
    [breach] = breaches(truth, published, RULES_3X3, knowledge=Knowledge(zeros_published=True))
    assert breach.low == pytest.approx(1)  # x = 1 at the bottom of the interval


def test_partner_knowing_c_flags_means_1_to_k_minus_1_can_never_be_protected():
    truth = cross_table(LEAVES_3X3, COUNTS_3X3)
    published = publish(truth, RULES_3X3, RECTANGLE, {k: "D" for k in RECTANGLE[1:]})
    flags = Knowledge(zeros_published=True, flag_meaning=True)  # every C cell is in [1, 4]
    [breach] = breaches(truth, published, RULES_3X3, knowledge=flags)
    assert breach.high <= 4 < breach.needed_high


def test_partner_with_the_code_list_hierarchy_recovers_y0t4_from_y0t9_minus_y5t9():
    leaves = {"age_group": AGE_LEAVES, "sex": SEX[:2]}
    rules = aggregate_rules(list(leaves), subtotals={"age_group": AGE_SUBTOTALS})
    truth = cross_table(leaves, np.array([[3, 9], [8, 6], [7, 12], [10, 4]]),
                        subtotals={"age_group": AGE_SUBTOTALS})
    # a rectangle that is safe against the _T margins only, not against Y0T9 = Y0T4 + Y5T9
    hidden = [key(a, s) for a in ("Y0T4", "Y10T14") for s in ("F", "M")]
    hidden += [key("Y15T17", "M"), key("Y10T17", "M"), key("Y10T17", "F"), key("Y15T17", "F")]
    weak = publish(truth, rules, hidden)
    assert breaches(truth, weak, rules, knowledge=Knowledge(hierarchy=False)) == []
    found = {b.key: b for b in breaches(truth, weak, rules)}
    assert key("Y0T4", "F") in found
    assert (found[key("Y0T4", "F")].low, found[key("Y0T4", "F")].high) == pytest.approx((3, 3))


def test_partner_knowing_the_earlier_release_combines_two_releases_safe_on_their_own():
    truth1 = cross_table(LEAVES_3X3, COUNTS_3X3)
    release1 = publish(truth1, RULES_3X3, RECTANGLE)
    _, truth2 = revise(truth1, LEAVES_3X3, COUNTS_3X3, {(2, 2): 13})
    other = [key("F", "ACC"), key("F", "SEP"), key("_U", "ACC"), key("_U", "SEP")]
    release2 = publish(truth2, RULES_3X3, other)
    assert breaches(truth1, release1, RULES_3X3) == []
    assert breaches(truth2, release2, RULES_3X3) == []
    # F/SEP was published in release 1 and has not changed: row F now gives F/ACC away
    [breach] = breaches(truth2, release2, RULES_3X3, earlier=[release1])
    assert breach.key == key("F", "ACC") and (breach.low, breach.high) == pytest.approx((2, 2))


def test_partner_with_margins_attacks_each_period_as_its_own_cube():
    leaves = {"sex": SEX[:2], "documentation_status": DOC[:3]}
    counts = np.array([[2, 8, 9], [9, 12, 6]])
    rules = aggregate_rules(list(leaves))
    truth = pa.concat_tables([cross_table(leaves, counts, keys={"period": p})
                              for p in ("2025-01", "2025-02")])
    safe = [key(s, d, group=("2025-01",)) for s in ("F", "M") for d in ("DOC", "IRR")]
    published = publish(truth, rules, [*safe, key("F", "DOC", group=("2025-02",))])
    [breach] = breaches(truth, published, rules)
    assert breach.key == key("F", "DOC", group=("2025-02",))


def test_attacker_refuses_a_publication_whose_counts_contradict_its_margins():
    truth = cross_table(LEAVES_3X3, COUNTS_3X3)
    published = publish(truth, RULES_3X3, RECTANGLE)
    counts = published.column("children").to_pylist()
    counts[-1] += 1  # the grand total no longer adds up
    broken = published.set_column(published.column_names.index("children"), "children",
                                  pa.array(counts, pa.int64()))
    with pytest.raises(AttackError, match="contradict"):
        attack(broken, RULES_3X3)


def test_partner_with_margins_finds_no_bound_above_a_fully_suppressed_cube():
    truth = cross_table(LEAVES_3X3, COUNTS_3X3)
    everything = list(read_cells(truth, TableRules.of(RULES_3X3)))
    found = attack(publish(truth, RULES_3X3, everything), RULES_3X3)
    assert all(low == 0 and high == float("inf") for low, high in found.values())


def test_publication_problems_names_each_flag_and_value_fault():
    truth = cross_table(LEAVES_3X3, COUNTS_3X3)
    good = publish(truth, RULES_3X3, RECTANGLE)
    bad_obs = good.set_column(good.column_names.index("OBS_STATUS"), "OBS_STATUS",
                              [["E"] + good.column("OBS_STATUS").to_pylist()[1:]])
    assert any("flagged E/C" in p for p in publication_problems(truth, bad_obs, RULES_3X3))
    small = publish(truth, RULES_3X3, [])
    assert any("in 1..k-1" in p for p in publication_problems(truth, small, RULES_3X3))
    extra = good.append_column("note", [["x"] * good.num_rows])
    assert any("columns" in p for p in publication_problems(truth, extra, RULES_3X3))


@st.composite
def suppressed_tables(draw):
    ndim = draw(st.integers(2, 3))
    names = ["sex", "care_situation", "documentation_status"][:ndim]
    pools = {"sex": SEX, "care_situation": CARE, "documentation_status": DOC}
    leaves = {n: pools[n][:draw(st.integers(2, 3))] for n in names}
    shape = tuple(len(v) for v in leaves.values())
    counts = np.array(draw(st.lists(st.integers(0, 30), min_size=int(np.prod(shape)),
                                    max_size=int(np.prod(shape))))).reshape(shape)
    truth = cross_table(leaves, counts)
    rules = aggregate_rules(names)
    keys = [key(*row[:ndim]) for row in zip(*(truth.column(n).to_pylist() for n in names), strict=True)]
    hidden = draw(st.sets(st.sampled_from(keys), max_size=len(keys) // 2))
    return truth, rules, leaves, publish(truth, rules, hidden), hidden


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(suppressed_tables())
def test_partner_with_margins_is_sound_and_recovers_every_lone_cell(case):
    truth, rules, leaves, published, hidden = case
    breaches(truth, published, rules)  # raises AttackError if a true value falls outside
    found = attack(published, rules)
    values = {k: c.value for k, c in read_cells(truth, TableRules.of(rules)).items()}
    assert all(low - 1e-6 <= values[k] <= high + 1e-6 for k, (low, high) in found.items())
    names = list(leaves)
    for cell in hidden:
        codes = cell[1]
        if "_T" in codes:
            continue
        for axis, name in enumerate(names):
            line = [codes[:axis] + (c,) + codes[axis + 1:] for c in [*leaves[name], "_T"]]
            if sum(key(*c) in hidden for c in line) == 1:
                assert found[cell] == pytest.approx((values[cell], values[cell]))
                break


@pytest.mark.parametrize("seed", [0, 1])
def test_each_generated_table_is_complete_and_has_primary_cells_to_protect(seed):
    for make in SHAPES.values():
        table, rules = make(seed)
        parsed = TableRules.of(rules)
        for cells in cubes(table, parsed).values():
            assert len(cells) == len(list(itertools.product(*cube_codes(cells, parsed))))
        assert any(parsed.is_primary(v) for v in table.column(parsed.count).to_pylist())


def plain_intervals(published, rules) -> dict:
    """The same attack without the reduction: one LP over every cell of the cube."""
    parsed = TableRules.of(rules)
    out = {}
    for group, cells in cubes(published, parsed).items():
        codes = cube_codes(cells, parsed)
        grid = list(itertools.product(*codes))
        index = {c: i for i, c in enumerate(grid)}
        bounds = [(cells[c].value, cells[c].value) if cells[c].value is not None else (0, None)
                  for c in grid]
        equations = margin_equations(codes, parsed, Knowledge())
        a_eq = np.zeros((len(equations), len(grid)))
        for r, (margin, parts) in enumerate(equations):
            a_eq[r, index[margin]] = 1
            for part in parts:
                a_eq[r, index[part]] -= 1
        for c in grid:
            if cells[c].value is None:
                objective = np.zeros(len(grid))
                objective[index[c]] = 1
                low = linprog(objective, A_eq=a_eq, b_eq=np.zeros(len(equations)), bounds=bounds)
                high = linprog(-objective, A_eq=a_eq, b_eq=np.zeros(len(equations)), bounds=bounds)
                out[(group, c)] = (low.fun, -high.fun if high.status == 0 else float("inf"))
    return out


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(suppressed_tables())
def test_partner_with_margins_gets_the_same_intervals_as_one_plain_lp_per_cube(case):
    _, rules, _, published, _ = case
    reduced, plain = attack(published, rules), plain_intervals(published, rules)
    assert sorted(reduced) == sorted(plain)
    assert flat(reduced[k] for k in plain) == pytest.approx(flat(plain.values()))
