"""The sender's side of protection: what linked releases already sent is kept and used."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

from exchange.contract.model import load_contract
from exchange.devkit.synthetic import generate
from exchange.protocol.protection import earlier_releases, protect_for_contract, sender_pseudonym_key


def _month(contract, period: str, seed: int) -> pa.Table:
    table = generate(contract, period, rows=400, seed=seed)
    ids = [f"KH{i:06d}" for i in range(table.num_rows)]  # the same people every month
    return table.set_column(table.column_names.index("person_id"), "person_id", pa.array(ids))


def test_linked_releases_are_recorded_and_used(tmp_path):
    base = load_contract("returnees.tha-khm")
    linked = replace(base, disclosure={**base.disclosure, "linkage": "acrossReleases"})
    key = sender_pseudonym_key(base.sender, tmp_path / "id")
    released = tmp_path / "released"
    first, report = protect_for_contract(_month(base, "2025-01", 1), linked, key, released)
    assert report.privacy["earlierReleases"] is False
    kept = earlier_releases(released, linked.id)
    assert kept.column_names == ["person_id", "period", "sex", "age_band", "province"]
    assert kept.num_rows == first.num_rows
    second, report = protect_for_contract(_month(base, "2025-02", 2), linked, key, released)
    assert report.privacy["earlierReleases"] is True
    assert earlier_releases(released, linked.id).num_rows == first.num_rows + second.num_rows
    # a revision of February replaces February's rows, it does not add to them
    again, _ = protect_for_contract(_month(base, "2025-02", 3), linked, key, released)
    kept = earlier_releases(released, linked.id)
    assert kept.num_rows == first.num_rows + again.num_rows
    assert pc.count_distinct(kept.column("period")).as_py() == 2
    # everyone returned in February: the joined trajectories are still shared by >= k
    trajectories = defaultdict(list)
    for row in kept.to_pylist():
        trajectories[row["person_id"]].append(
            tuple(str(row[c]) for c in ("period", "sex", "age_band", "province")))
    shared = Counter(tuple(sorted(v)) for v in trajectories.values())
    assert min(shared.values()) >= linked.disclosure["k"]


def test_unlinked_releases_keep_nothing(tmp_path):
    base = load_contract("returnees.tha-khm")
    key = sender_pseudonym_key(base.sender, tmp_path / "id")
    protect_for_contract(_month(base, "2025-01", 1), base, key, tmp_path / "released")
    assert earlier_releases(tmp_path / "released", base.id) is None
