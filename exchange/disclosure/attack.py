"""The attacker's check: how precisely can each suppressed cell be recomputed?

The attacker (docs/disclosure.md) knows every published count and flag, that a missing
combination is 0, that every suppressed count is >= 0, every margin relation (``_T``
and the code-list hierarchies' subtotals) and every cell an earlier release published
unchanged. A primary cell (true value ``x`` in 1..k-1) passes when the attacker's
interval ``[lo, hi]`` of values consistent with all that has ``lo <= x - min(L, x)``
and ``hi >= x + U`` (protection levels L, U); linear programming (HiGHS through
``highspy``) decides it exactly, one independent component of suppressed cells at a
time (:mod:`exchange.disclosure.attack_system`, :mod:`exchange.disclosure.attack_lp`).

Protection needs a proof, not the interval: a feasible table in which a cell reaches
its target proves that side, so the audit (``targets`` given) solves the exact
programs only for cells no such table reaches; their verdict is the same as the
per-cell min and max would give. ``exact=True`` computes every interval exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from exchange.disclosure.attack_exact import interval_component
from exchange.disclosure.attack_lp import TOLERANCE as _TOLERANCE
from exchange.disclosure.attack_lp import lp_count, prove_component
from exchange.disclosure.attack_system import components, cube_system
from exchange.disclosure.cube import Cube, split_cubes
from exchange.disclosure.rules import DisclosureRules, as_rules
from exchange.errors import DisclosureError

__all__ = ["AuditCell", "AuditResult", "audit_table", "cube_intervals", "cube_system",
           "judge", "lp_count", "protection_targets"]


@dataclass(frozen=True)
class AuditCell:
    """One suppressed cell: its table row and the attacker's interval, as far as decided.

    ``lo``, ``hi``: exact (``exact=True``), or for the proving audit the end a feasible
    table reached when it meets the target (the attacker's interval is at least as
    wide) and the exact end when it does not; ``nan`` for a side with no target.
    ``primary``: its true value is in 1..k-1 (known only with the original table);
    ``slack``: how far beyond the protection levels the interval reaches (min of both
    ends; negative means it fails), ``None`` for secondary cells.
    """

    row: int
    lo: float
    hi: float
    ok: bool
    primary: bool = False
    slack: float | None = None


@dataclass
class AuditResult:
    """The verdict on a published table (intervals of counts only, never identities)."""

    protection_lower: int
    protection_upper: int
    minimum_cell_size: int
    cells: list[AuditCell] = field(default_factory=list)
    small_published: int = 0

    @property
    def ok(self) -> bool:
        return self.small_published == 0 and all(c.ok for c in self.cells)

    @property
    def failed(self) -> list[AuditCell]:
        return [c for c in self.cells if not c.ok]

    @property
    def minimum_slack(self) -> float | None:
        """The narrowest margin found over the primary cells (None: no primary cell)."""
        slacks = [c.slack for c in self.cells if c.slack is not None]
        return min(slacks) if slacks else None

    def to_dict(self) -> dict:
        """JSON-able summary: counts of cells proven and failed, the narrowest slack."""
        slack = self.minimum_slack
        return {"ok": self.ok, "suppressedCells": len(self.cells),
                "primaryCells": sum(c.primary for c in self.cells),
                "provenCells": len(self.cells) - len(self.failed),
                "failedCells": len(self.failed),
                "publishedBelowMinimum": self.small_published,
                "protectionLevels": {"lower": self.protection_lower,
                                     "upper": self.protection_upper},
                "minimumSlack": None if slack is None or np.isinf(slack) else round(slack, 6)}


def judge(lo: float, hi: float, x: int, lower: int, upper: int) -> float:
    """Slack of a primary cell: >= 0 when its interval meets the protection levels."""
    return min((x - min(lower, x)) - lo, hi - (x + upper))


def protection_targets(value: np.ndarray, primary: np.ndarray, rules: DisclosureRules
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per cell what the attacker's interval must reach: ``(need_lo, need_hi)``.

    A primary cell (``primary``, true ``value`` x) needs ``lo <= x - min(L, x)`` and
    ``hi >= x + U``; any other cell needs nothing (``+inf``, ``-inf``).
    """
    x = value.astype(np.float64)
    lower, upper = rules.protection_lower, rules.protection_upper
    need_lo = np.where(primary, x - np.minimum(lower, x), np.inf)
    need_hi = np.where(primary, x + upper, -np.inf)
    return need_lo, need_hi


def audit_table(table: pa.Table, rules: DisclosureRules | dict, *,
                original: pa.Table | None = None, earlier: Sequence[pa.Table] = (),
                exact: bool = False) -> AuditResult:
    """Attack a protected table; report each suppressed cell's interval and the verdict.

    ``original``: the table before protection (same rows), which tells the primary cells
    and their true values; without it every suppressed cell is judged as if primary
    with the worst value for it (it must reach 0 and ``k - 1 + U``). ``earlier``:
    releases the partner already holds; each cell they published with the value it
    still has (per ``original``) is known. ``exact``: compute every suppressed cell's
    exact interval (slower; the verdicts are the same).
    """
    from exchange.disclosure.earlier import pinned_rows

    rules = as_rules(rules)
    if rules.method != "aggregate":
        raise DisclosureError(f"audit_table needs disclosure.method aggregate, "
                              f"not {rules.method}", hint="audit frequency tables only")
    result = AuditResult(protection_lower=rules.protection_lower,
                         protection_upper=rules.protection_upper,
                         minimum_cell_size=rules.minimum_cell_size)
    truth = None
    if original is not None:
        truth = original.column(rules.count_column).to_numpy(zero_copy_only=False)
    pinned = pinned_rows(original if original is not None else table, rules, earlier)
    for cube in split_cubes(table, rules, allow_unknown=True, pinned=pinned):
        if truth is not None:  # a pinned cell suppressed again: the earlier value is known
            cube.value[cube.pinned] = truth[cube.row[cube.pinned]]
        shown = cube.present & cube.known & ~cube.pinned
        small = shown & (cube.value > 0) & (cube.value < rules.minimum_cell_size)
        result.small_published += int(small.sum())
        targets = None
        if not exact:
            k = rules.minimum_cell_size
            if truth is None:  # any value 1..k-1 possible: 0 and k-1+U decide (see _cell)
                hidden = ~cube.known
                targets = (np.where(hidden, 0.0, np.inf),
                           np.where(hidden, k - 1.0 + rules.protection_upper, -np.inf))
            else:
                value = np.where(cube.present, truth[cube.row], 0)
                targets = protection_targets(value, ~cube.known & (value > 0) & (value < k),
                                             rules)
        for flat, lo, hi in cube_intervals(cube, targets):
            row = int(cube.row[flat])
            result.cells.append(_cell(row, lo, hi, None if truth is None else int(truth[row]),
                                      rules))
    result.cells.sort(key=lambda c: c.row)
    return result


def _cell(row: int, lo: float, hi: float, x: int | None, rules: DisclosureRules) -> AuditCell:
    k, lower, upper = rules.minimum_cell_size, rules.protection_lower, rules.protection_upper
    if x is None:  # unknown truth: every value in [max(lo, 1), min(hi, k-1)] must pass
        worst = min((judge(lo, hi, v, lower, upper)
                     for v in range(max(1, int(np.ceil(lo - _TOLERANCE))),
                                    int(min(hi + _TOLERANCE, k - 1)) + 1)), default=None)
        return AuditCell(row=row, lo=lo, hi=hi, ok=worst is None or worst >= -_TOLERANCE,
                         primary=worst is not None, slack=worst)
    if not 0 < x < k:
        return AuditCell(row=row, lo=lo, hi=hi, ok=True)
    slack = judge(lo, hi, x, lower, upper)
    return AuditCell(row=row, lo=lo, hi=hi, ok=slack >= -_TOLERANCE, primary=True, slack=slack)


def cube_intervals(cube: Cube, targets: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> Iterator[tuple[int, float, float]]:
    """Yield ``(flat cell, lo, hi)`` for every suppressed cell of a cube.

    ``targets``: per flat cell ``(need_lo, need_hi)`` (:func:`protection_targets`): prove
    them (see :class:`AuditCell` for what ``lo`` and ``hi`` then are); without, the
    exact interval of every cell.
    """
    hidden, parts = components(cube)
    for part in parts:
        flat = hidden[part.cells]
        if targets is None:
            lo, hi = interval_component(part.a, part.b, part.full)
        else:
            lo, hi = prove_component(part.a, part.b, part.full,
                                     targets[0][flat], targets[1][flat])
        for j, cell in enumerate(flat):
            yield int(cell), float(lo[j]), float(hi[j])
