"""Cell suppression and the attacker's audit on random 2-D and 3-D tables with margins."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from exchange.disclosure import DisclosureRules, audit_table, protect
from exchange.disclosure.cube import split_cubes
from exchange.errors import DisclosureError

NAMES = ("sex", "age_group", "province")


def rules_for(ndim: int, minimum: int = 5, lower: int = 5, upper: int = 5) -> DisclosureRules:
    return DisclosureRules.from_dict({
        "method": "aggregate", "countColumn": "count", "dimensions": list(NAMES[:ndim]),
        "totalCode": "_T", "minimumCellSize": minimum,
        "protectionLevels": {"lower": lower, "upper": upper}})


def table_with_margins(base: np.ndarray, periods: int = 1) -> pa.Table:
    """Every cell of ``base`` plus every margin (``_T``), one block per period."""
    columns: dict[str, list] = {"period": [], **{n: [] for n in NAMES[:base.ndim]}, "count": []}
    for period in range(periods):
        block = np.roll(base, period)
        for index in itertools.product(*(list(range(n)) + [None] for n in base.shape)):
            region = tuple(slice(None) if i is None else i for i in index)
            columns["period"].append(f"2025-0{period + 1}")
            for name, i in zip(NAMES, index, strict=False):
                columns[name].append("_T" if i is None else f"C{i}")
            columns["count"].append(int(block[region].sum()))
    columns["count"] = pa.array(columns["count"], pa.int64())
    return pa.table(columns)


tables = st.one_of(
    arrays(np.int64, st.tuples(st.integers(2, 5), st.integers(2, 4)), elements=st.integers(0, 14)),
    arrays(np.int64, st.tuples(st.integers(2, 3), st.integers(2, 3), st.integers(2, 3)),
           elements=st.integers(0, 12)),
)
slow_ok = settings(max_examples=30, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


def published_small(table: pa.Table, minimum: int) -> int:
    counts = table.column("count").to_numpy(zero_copy_only=False)
    shown = ~np.isnan(counts.astype(float))
    return int(((counts[shown] > 0) & (counts[shown] < minimum)).sum())


@slow_ok
@given(tables, st.integers(2, 6), st.integers(1, 8), st.integers(1, 8))
def test_protected_tables_pass_the_attackers_audit(base, minimum, lower, upper):
    table = table_with_margins(base)
    rules = rules_for(base.ndim, minimum, lower, upper)
    protected, report = protect(table, rules)
    assert published_small(protected, minimum) == 0
    verdict = audit_table(protected, rules, original=table)
    assert verdict.ok, [c for c in verdict.cells if not c.ok]
    assert len(verdict.cells) == (report.cells_primary_suppressed
                                  + report.cells_secondary_suppressed)
    status = protected.column("CONF_STATUS").to_pylist()
    nulls = protected.column("count").is_null().to_pylist()
    assert [s == "C" for s in status] == nulls
    assert set(status) <= {"F", "C"}  # one flag towards the partner, no D
    assert set(protected.column("OBS_STATUS").to_pylist()) <= {"A", "M"}


@slow_ok
@given(tables)
def test_protection_is_deterministic(base):
    table = table_with_margins(base, periods=2)
    first, report = protect(table, rules_for(base.ndim))
    again, _ = protect(table, rules_for(base.ndim))
    assert first.equals(again)
    assert report.to_dict() == protect(table, rules_for(base.ndim))[1].to_dict()


def _republish_secondaries(protected: pa.Table, original: pa.Table, minimum: int = 5) -> pa.Table:
    truth = original.column("count").to_pylist()
    secondary = pa.array([s == "C" and not 0 < v < minimum
                          for s, v in zip(protected.column("CONF_STATUS").to_pylist(), truth,
                                          strict=True)])
    counts = pa.compute.if_else(secondary, original.column("count"), protected.column("count"))
    return protected.set_column(protected.column_names.index("count"), "count", counts)


@slow_ok
@given(tables)
def test_audit_catches_any_cell_left_alone_in_a_margin_relation(base):
    table = table_with_margins(base)
    rules = rules_for(base.ndim)
    protected, _ = protect(table, rules)
    bare = _republish_secondaries(protected, table)
    cube = next(split_cubes(bare, rules, allow_unknown=True))
    lonely = False
    for axis in range(base.ndim):
        for _, totals, children in cube.relations(axis):
            hidden = ~cube.known[np.concatenate([children, totals[:, None]], axis=1)]
            lonely |= bool((hidden.sum(axis=1) == 1).any())
    if lonely:
        assert not audit_table(bare, rules, original=table).ok


def test_audit_catches_removed_secondary_suppression():
    base = np.array([[3, 20, 30], [25, 40, 35], [15, 22, 18]])
    table = table_with_margins(base)
    rules = rules_for(2)
    protected, report = protect(table, rules)
    assert report.cells_primary_suppressed == 1 and report.cells_secondary_suppressed == 3
    assert report.to_dict()["audit"]["ok"] is True
    bare = _republish_secondaries(protected, table)
    verdict = audit_table(bare, rules, original=table)
    assert not verdict.ok
    (cell,) = verdict.failed
    assert cell.lo == pytest.approx(3) and cell.hi == pytest.approx(3)


def test_exact_intervals_on_a_known_table():
    base = np.array([[3, 20], [25, 40]])
    table = table_with_margins(base)
    rules = rules_for(2)
    protected, _ = protect(table, rules)
    verdict = audit_table(protected, rules, original=table)
    assert verdict.ok
    (primary,) = [c for c in verdict.cells if c.primary]
    assert primary.lo == 0 and primary.hi >= 3 + 5


def test_small_margin_is_suppressed_and_zeros_are_published():
    base = np.array([[1, 0, 0], [2, 0, 0], [30, 12, 40]])
    table = table_with_margins(base)
    protected, _ = protect(table, rules_for(2))
    rows = protected.to_pylist()
    margin = next(r for r in rows if r["sex"] == "C0" and r["age_group"] == "_T")
    assert margin["count"] is None and margin["CONF_STATUS"] == "C"  # a total of 1 is small
    zeros = [r for r in rows if r["CONF_STATUS"] == "F" and r["count"] == 0]
    assert zeros, "zeros not needed as complements stay published"


def test_inconsistent_margins_are_refused():
    table = table_with_margins(np.array([[3, 20], [25, 40]]))
    counts = table.column("count").to_pylist()
    counts[-1] += 1
    table = table.set_column(table.column_names.index("count"), "count",
                             pa.array(counts, pa.int64()))
    with pytest.raises(DisclosureError, match="not the sum"):
        protect(table, rules_for(2))


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop_columns(["sex"]), "no column sex"),
    (lambda t: t.set_column(t.column_names.index("count"), "count",
                            pa.array([None] + t.column("count").to_pylist()[1:], pa.int64())),
     "empty count"),
    (lambda t: t.set_column(t.column_names.index("count"), "count",
                            pa.compute.cast(t.column("count"), pa.float64())), "integers"),
    (lambda t: pa.concat_tables([t, t]), "same cell"),
])
def test_bad_tables_get_clear_errors(change, message):
    table = change(table_with_margins(np.array([[3, 20], [25, 40]])))
    with pytest.raises(DisclosureError, match=message):
        protect(table, rules_for(2))


def test_table_with_a_missing_margin_row_is_refused():
    """A missing combination is a published 0 (the cube is complete), so a missing
    margin row with nonzero cells under it contradicts its cells."""
    table = table_with_margins(np.array([[3, 20, 9], [25, 40, 7], [6, 11, 30]]))
    keep = [not (r["sex"] == "_T" and r["age_group"] == "C1") for r in table.to_pylist()]
    with pytest.raises(DisclosureError, match="missing or is not the sum"):
        protect(table.filter(pa.array(keep)), rules_for(2))


def test_missing_zero_rows_count_as_published_zeros():
    table = table_with_margins(np.array([[3, 0, 9], [25, 40, 7], [6, 11, 30]]))
    keep = [r["count"] != 0 for r in table.to_pylist()]
    protected, report = protect(table.filter(pa.array(keep)), rules_for(2))
    assert report.ok and protected.num_rows == sum(keep)
