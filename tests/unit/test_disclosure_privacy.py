"""Records against an informed recipient: l-diversity, period as a quasi-identifier,
k-anonymity of the union of releases, shuffled output, scoped pseudonyms, and a peer
measure (pandas; pycanon when installed) agreeing with ours."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from exchange.disclosure import Release, protect, pseudonymise
from exchange.errors import DisclosureError

KEY, PARTNER_KEY = bytes(range(32)), bytes(range(7, 39))
QIS = ["sex", "age_band", "province"]
REASONS = ["DEP", "VOL", "END", "TIP", "OTH"]
RULES = {
    "method": "records", "quasiIdentifiers": QIS, "k": 5,
    "hierarchies": {"age_band": [{"Y0T4": "Y0T9", "Y5T9": "Y0T9", "Y10T14": "Y10T17",
                                  "Y15T17": "Y10T17"}]},
    "pseudonymise": ["person_id"], "sensitiveAttributes": ["return_reason"], "lDiversity": 2,
}


def returnees(n: int, seed: int, period: str = "2025-03", first_id: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "period": [period] * n,
        "person_id": [f"KH{first_id + i:06d}" for i in range(n)],
        "sex": rng.choice(["F", "M"], n).tolist(),
        "age_band": rng.choice(["Y0T4", "Y5T9", "Y10T14", "Y15T17"], n).tolist(),
        "province": rng.choice(["KH-1", "KH-2", "KH-3"], n).tolist(),
        "return_reason": rng.choice(REASONS, n).tolist(),
    })


def peer_k_l(table: pa.Table, qis, sensitive) -> tuple[int, int]:
    """An independent measure (pandas group-by; a null is a value of its own)."""
    frame = table.select([*qis, *sensitive]).to_pandas().astype(object).fillna("*")
    groups = frame.groupby(list(qis), dropna=False)
    k = int(groups.size().min())
    ell = min(int(groups[s].nunique().min()) for s in sensitive) if sensitive else k
    return k, ell


def test_l_diversity_fixes_a_homogeneous_class():
    base = returnees(400, 1)
    tip = pa.table({"period": ["2025-03"] * 6, "person_id": [f"T{i}" for i in range(6)],
                    "sex": ["F"] * 6, "age_band": ["Y15T17"] * 6, "province": ["KH-9"] * 6,
                    "return_reason": ["TIP"] * 6})
    table = pa.concat_tables([base, tip])
    without = {k: v for k, v in RULES.items() if k not in ("sensitiveAttributes", "lDiversity")}
    plain, _ = protect(table, without, KEY)
    assert peer_k_l(plain, QIS, ["return_reason"])[1] == 1  # the 6 trafficking victims stand out
    out, report = protect(table, RULES, KEY)
    k, ell = peer_k_l(out, ["period", *QIS], ["return_reason"])
    assert k >= 5 and ell >= 2
    assert report.privacy["lReached"] == ell and report.k_reached == k
    assert "KH-9" not in out.column("province").to_pylist()


def test_l_diversity_that_cannot_hold_is_refused():
    table = returnees(30, 2)
    table = table.set_column(5, "return_reason", pa.array(["DEP"] * 30))
    with pytest.raises(DisclosureError, match="2-diverse"):
        protect(table, RULES, KEY)


def test_period_is_a_quasi_identifier():
    rng = np.random.default_rng(4)
    rows = []
    for province in ("KH-1", "KH-2", "KH-3", "KH-4"):
        for period in ("2025-01", "2025-02"):  # 6 a class overall, 3 within a month
            rows += [(period, province, reason) for reason in rng.choice(REASONS, 3)]
    table = pa.table({"period": [r[0] for r in rows],
                      "person_id": [f"P{i}" for i in range(len(rows))],
                      "sex": ["F"] * len(rows), "age_band": ["Y0T4"] * len(rows),
                      "province": [r[1] for r in rows], "return_reason": [r[2] for r in rows]})
    rules = {k: v for k, v in RULES.items() if k not in ("sensitiveAttributes", "lDiversity")}
    assert peer_k_l(table, QIS, [])[0] == 6 and peer_k_l(table, ["period", *QIS], [])[0] == 3
    out, report = protect(table, rules, KEY)
    assert peer_k_l(out, ["period", *QIS], [])[0] >= 5
    assert out.column("period").null_count == 0
    assert report.privacy["timeColumns"] == ["period"]
    assert Counter(out.column("period").to_pylist()) == Counter(table.column("period").to_pylist())


def test_rows_are_shuffled_reproducibly_by_the_sender_only():
    table = returnees(300, 5)
    out, _ = protect(table, RULES, KEY, release=Release("returnees.tha-khm"))
    again, _ = protect(table, RULES, KEY, release=Release("returnees.tha-khm"))
    assert out.equals(again)
    expected = pseudonymise(table.column("person_id"), KEY,
                            "returnees.tha-khm/2025-03/person_id").to_pylist()
    published = out.column("person_id").to_pylist()
    assert sorted(published) == sorted(expected) and published != expected
    positions = {p: i for i, p in enumerate(published)}
    order = [positions[p] for p in expected]
    assert abs(np.corrcoef(order, range(len(order)))[0, 1]) < 0.2


def _release(period: str, ids: list[int], seed: int) -> pa.Table:
    table = returnees(len(ids), seed, period)
    return table.set_column(1, "person_id", pa.array([f"KH{i:06d}" for i in ids]))


def test_pseudonyms_unlink_across_releases_unless_the_contract_allows_it():
    first, second = _release("2025-01", list(range(100)), 1), _release("2025-02", list(range(100)), 2)
    scoped = Release("returnees.tha-khm")
    a, _ = protect(first, RULES, KEY, release=scoped)
    b, _ = protect(second, RULES, KEY, release=scoped)
    assert not set(a.column("person_id").to_pylist()) & set(b.column("person_id").to_pylist())
    linked = {**RULES, "linkage": "acrossReleases"}
    a, report = protect(first, linked, KEY, release=scoped)
    b, _ = protect(second, linked, KEY, release=scoped)
    assert set(a.column("person_id").to_pylist()) == set(b.column("person_id").to_pylist())
    assert report.privacy["pseudonymScope"] == "contract"
    # withRecipient: the partner recomputes them from its own identifiers and the shared key
    shared = {**RULES, "linkage": "withRecipient"}
    c, _ = protect(first, shared, PARTNER_KEY, release=scoped)
    theirs = pseudonymise(first.column("person_id"), PARTNER_KEY, "returnees.tha-khm/person_id")
    assert set(c.column("person_id").to_pylist()) == set(theirs.to_pylist())


@pytest.mark.parametrize(("seed", "back", "fresh", "some_kept"),
                         [(9, 60, 150, True), (10, 150, 20, True), (11, 5, 100, False)])
def test_union_of_linked_releases_stays_k_anonymous(seed, back, fresh, some_kept):
    rules = {**RULES, "linkage": "acrossReleases"}
    rng = np.random.default_rng(seed)
    sent: list[pa.Table] = []
    next_id, population = 0, []
    for month in range(1, 5):
        returning = rng.choice(population, min(len(population), back), replace=False).tolist() \
            if population else []
        new = list(range(next_id, next_id + fresh))
        next_id += fresh
        population += new
        table = _release(f"2025-0{month}", returning + new, month)
        earlier = pa.concat_tables(sent) if sent else None
        out, report = protect(table, rules, KEY,
                              release=Release("returnees.tha-khm", earlier=earlier))
        sent.append(out.select(["person_id", "period", *QIS]))
    union = pa.concat_tables(sent).to_pylist()
    trajectories = defaultdict(list)
    for row in union:
        trajectories[row["person_id"]].append(tuple(row[c] for c in ["period", *QIS]))
    shared = Counter(tuple(sorted(t)) for t in trajectories.values())
    assert min(shared.values()) >= 5
    # with many returning, some links are kept; with a handful, none can be
    assert any(len(t) > 1 for t in trajectories.values()) == some_kept


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_our_measure_agrees_with_a_peer(seed):
    table = returnees(500 + 200 * seed, seed)
    out, report = protect(table, {**RULES, "k": 3 + seed}, KEY)
    k, ell = peer_k_l(out, ["period", *QIS], ["return_reason"])
    assert (report.k_reached, report.privacy["lReached"]) == (k, ell)


def test_frame_helper_counts_nulls_as_a_value():
    table = pa.table({"a": ["x", None, None], "s": [1, 2, 1]})
    assert peer_k_l(table, ["a"], ["s"]) == (1, 1)
    assert isinstance(table.to_pandas(), pd.DataFrame)


def test_privacy_rules_parse_and_are_checked():
    from exchange.disclosure.rules import DisclosureRules

    rules = DisclosureRules.from_dict({**RULES, "linkage": "acrossReleases"})
    assert rules.sensitive_attributes == ("return_reason",) and rules.l_diversity == 2
    assert rules.links_releases and rules.to_dict()["linkage"] == "acrossReleases"
    assert DisclosureRules.from_dict(rules.to_dict()) == rules
    default = DisclosureRules.from_dict({k: v for k, v in RULES.items() if k != "lDiversity"})
    assert default.l_diversity == 2 and not default.links_releases
    for bad, message in [({"linkage": "always"}, "disclosure.linkage"),
                         ({"sensitiveAttributes": ["sex"]}, "sensitiveAttributes"),
                         ({"sensitiveAttributes": [], "lDiversity": 2}, "sensitiveAttributes"),
                         ({"lDiversity": 0}, "lDiversity")]:
        with pytest.raises(DisclosureError, match=message):
            DisclosureRules.from_dict({**RULES, **bad})
    with pytest.raises(DisclosureError, match="belongs to method records"):
        DisclosureRules.from_dict({"method": "aggregate", "countColumn": "n",
                                   "dimensions": ["sex"], "sensitiveAttributes": ["x"]})
