"""The recipient of a protected frequency table, attacking it by linear programming.

The attacker knows what the shared spec says a partner knows: the contract's rules
(dimensions, count column, total code, minimum cell size k, protection levels, the
code-list subtotals), the publication rule, every published count and flag, and every
earlier release of the same contract and period. For each suppressed cell it computes
the smallest and largest value consistent with all of that:

* a published count is fixed; a suppressed cell is >= 0 (zeros are protectable);
* a combination of a cube's codes missing from the publication is a structural 0;
* for every dimension, the total-code cell is the sum of the leaf codes present
  (leaf = neither the total code nor a parent in the subtotals), and every parent code
  present is the sum of its children present, whatever the other dimensions hold;
* a cell published earlier whose value has not changed is known (``known``).

Columns other than the count, the dimensions and the SDMX status columns split a table
into independent cubes. Within a cube, fixed cells move to the right-hand side and the
unknowns split into connected parts; then one LP per bound, HiGHS through scipy (a test
checks this against one plain LP over the whole cube). ``Knowledge`` adds what a WEAK
publication would tell the partner (zeros never suppressed, C/D flags), to show the
attacker finds the leaks of issue 12. The flag and value checks of spec rules 1-3 are
in ``publication.py``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from scipy.optimize import linprog
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

STATUS_COLUMNS = ("OBS_STATUS", "CONF_STATUS")
TOLERANCE = 1e-6

Key = tuple[tuple, tuple]  # (values of the cube-splitting columns, codes of the dimensions)


class AttackError(AssertionError):
    """The publication contradicts the stated model, or the attacker is unsound."""


@dataclass(frozen=True)
class TableRules:
    """The aggregate rules of the spec, read from the mapping given to ``protect``."""

    count: str
    dimensions: tuple[str, ...]
    total: str
    k: int
    lower: int
    upper: int
    subtotals: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def of(cls, rules: Mapping) -> TableRules:
        """Parse the spec's spelling: countColumn, dimensions, protectionLevels, ..."""
        levels = rules["protectionLevels"]
        subtotals = {dim: {parent: tuple(children) for parent, children in tree.items()}
                     for dim, tree in (rules.get("subtotals") or {}).items()}
        return cls(count=rules["countColumn"], dimensions=tuple(rules["dimensions"]),
                   total=rules.get("totalCode", "_T"), k=int(rules["minimumCellSize"]),
                   lower=int(levels["lower"]), upper=int(levels["upper"]), subtotals=subtotals)

    def is_primary(self, value: int) -> bool:
        """A primary cell: a true count of 1..k-1."""
        return 1 <= value <= self.k - 1


@dataclass(frozen=True)
class Knowledge:
    """What the partner may assume beyond the spec's attacker (for weak publications)."""

    hierarchy: bool = True        # the code-list subtotals are margins (spec: yes)
    zeros_published: bool = False  # old rule: a suppressed cell is >= 1
    flag_meaning: bool = False     # old rule: CONF_STATUS C is in [1, k-1], D is >= k


@dataclass(frozen=True)
class Cell:
    """One row of a table as the attacker reads it."""

    value: int | None
    conf: str | None
    obs: str | None


@dataclass(frozen=True)
class Breach:
    """A primary cell whose attacker interval is narrower than its protection levels."""

    key: Key
    true_value: int
    low: float
    high: float
    needed_low: int
    needed_high: int

    def __str__(self) -> str:
        return (f"cell {self.key}: true {self.true_value}, attacker interval "
                f"[{self.low:g}, {self.high:g}], must reach [{self.needed_low}, {self.needed_high}]")


def split_columns(table: pa.Table, rules: TableRules) -> list[str]:
    """Columns that split the table into cubes (period, ref_area, ...), sorted by name."""
    skip = {rules.count, *rules.dimensions, *STATUS_COLUMNS}
    return sorted(name for name in table.column_names if name not in skip)


def read_cells(table: pa.Table, rules: TableRules) -> dict[Key, Cell]:
    """Every row as key -> Cell; a repeated key is an error."""
    groups = split_columns(table, rules)
    rows = table.to_pylist()
    cells: dict[Key, Cell] = {}
    for row in rows:
        key = (tuple(row[g] for g in groups), tuple(row[d] for d in rules.dimensions))
        if key in cells:
            raise AttackError(f"two rows for cell {key}")
        cells[key] = Cell(row[rules.count], row.get("CONF_STATUS"), row.get("OBS_STATUS"))
    return cells


def cubes(table: pa.Table, rules: TableRules) -> dict[tuple, dict[tuple, Cell]]:
    """The table's cells grouped by cube: group values -> dimension codes -> Cell."""
    by_group: dict[tuple, dict[tuple, Cell]] = {}
    for (group, codes), cell in read_cells(table, rules).items():
        by_group.setdefault(group, {})[codes] = cell
    return by_group


def cube_codes(cells: Mapping[tuple, Cell], rules: TableRules) -> list[list[str]]:
    """Each dimension's codes occurring in a cube, in order of first appearance."""
    return [list(dict.fromkeys(c[axis] for c in cells)) for axis in range(len(rules.dimensions))]


def known_from_earlier(earlier: Iterable[pa.Table], truth: pa.Table,
                       rules: TableRules) -> dict[Key, int]:
    """Cells published in an earlier release whose true value is still the same."""
    now = {key: cell.value for key, cell in read_cells(truth, rules).items()}
    known: dict[Key, int] = {}
    for release in earlier:
        for key, cell in read_cells(release, rules).items():
            if cell.value is not None and now.get(key) == cell.value:
                known[key] = cell.value
    return known


def _leaves_and_parents(codes: Sequence[str], dimension: str, rules: TableRules,
                        knowledge: Knowledge) -> tuple[list[str], dict[str, list[str]]]:
    tree = rules.subtotals.get(dimension, {})
    present = set(codes)
    parents = {p: [c for c in children if c in present]
               for p, children in tree.items() if p in present}
    leaves = [c for c in codes if c != rules.total and c not in tree]
    return leaves, (parents if knowledge.hierarchy else {})


def margin_equations(codes: list[list[str]], rules: TableRules,
                      knowledge: Knowledge) -> list[tuple[tuple, list[tuple]]]:
    """Each equation as (the margin cell's codes, the codes of the cells it sums)."""
    equations = []
    for axis, dimension in enumerate(rules.dimensions):
        leaves, parents = _leaves_and_parents(codes[axis], dimension, rules, knowledge)
        sums = dict(parents)
        if rules.total in codes[axis]:
            sums[rules.total] = leaves
        others = [codes[d] if d != axis else [None] for d in range(len(codes))]
        for rest in itertools.product(*others):
            for margin, parts in sums.items():
                equations.append((_at(rest, axis, margin), [_at(rest, axis, c) for c in parts]))
    return equations


def _at(rest: tuple, axis: int, code: str) -> tuple:
    """The codes ``rest`` with ``code`` put in at ``axis``."""
    return rest[:axis] + (code,) + rest[axis + 1:]


def _bounds(cell: Cell | None, known: int | None, rules: TableRules,
            knowledge: Knowledge) -> tuple[float, float]:
    if cell is None:
        return 0.0, 0.0  # a missing combination is a structural zero
    if cell.value is not None:
        return float(cell.value), float(cell.value)
    if known is not None:
        return float(known), float(known)
    low, high = 0.0, math.inf
    if knowledge.zeros_published:
        low = 1.0
    if knowledge.flag_meaning and cell.conf == "C":
        low, high = max(low, 1.0), float(rules.k - 1)
    if knowledge.flag_meaning and cell.conf == "D":
        low = max(low, float(rules.k))
    return low, high


def _attack_cube(group: tuple, cells: Mapping[tuple, Cell], known: Mapping[Key, int],
                 rules: TableRules, knowledge: Knowledge,
                 targets: set[tuple]) -> dict[Key, tuple[float, float]]:
    """Min and max of each suppressed cell of one cube.

    Fixed cells (published, known, structural zeros) are moved to the right-hand side;
    an equation left without unknowns must hold exactly. The unknowns then fall into
    independent parts (linked by shared equations), each solved as its own LP.
    """
    codes = cube_codes(cells, rules)
    grid = list(itertools.product(*codes))
    index = {c: i for i, c in enumerate(grid)}
    bounds = np.array([_bounds(cells.get(c), known.get((group, c)), rules, knowledge) for c in grid])
    fixed = bounds[:, 0] == bounds[:, 1]
    unknown = np.flatnonzero(~fixed)
    column = {int(v): j for j, v in enumerate(unknown)}
    rows, cols, values, rhs = [], [], [], []
    for margin, parts in margin_equations(codes, rules, knowledge):
        terms = [(index[margin], 1.0)] + [(index[p], -1.0) for p in parts]
        free = [(column[i], coef) for i, coef in terms if not fixed[i]]
        constant = sum(coef * bounds[i, 0] for i, coef in terms if fixed[i])
        if not free:
            if abs(constant) > TOLERANCE:
                raise AttackError(f"cube {group}: the published counts contradict the margin "
                                  f"of cell {margin}")
            continue
        rows.extend([len(rhs)] * len(free))
        cols.extend(j for j, _ in free)
        values.extend(coef for _, coef in free)
        rhs.append(-constant)
    a_eq = csr_matrix((values, (rows, cols)), shape=(len(rhs), unknown.size))
    out = {(group, c): (bounds[index[c], 0], bounds[index[c], 0])  # e.g. known from earlier
           for c in targets if fixed[index[c]]}
    for part_vars, part_rows in _parts(a_eq):
        a_part = a_eq[part_rows][:, part_vars]
        b_part = np.asarray(rhs)[part_rows]
        part_bounds = [tuple(bounds[unknown[j]]) for j in part_vars]
        out.update(_solve_part(group, [grid[unknown[j]] for j in part_vars], a_part, b_part,
                               part_bounds, targets))
    return out


def _parts(a_eq: csr_matrix) -> list[tuple[np.ndarray, np.ndarray]]:
    """Unknowns (columns) and equations (rows) grouped into connected parts."""
    n_rows, n_cols = a_eq.shape
    incidence = a_eq.tocoo()
    graph = csr_matrix((np.ones(incidence.nnz), (incidence.col, n_cols + incidence.row)),
                       shape=(n_cols + n_rows, n_cols + n_rows))
    _, label = connected_components(graph, directed=False)
    parts = []
    for name in np.unique(label[:n_cols]):
        parts.append((np.flatnonzero(label[:n_cols] == name),
                      np.flatnonzero(label[n_cols:] == name)))
    return parts


def _solve_part(group: tuple, codes: list[tuple], a_eq: csr_matrix, b_eq: np.ndarray,
                bounds: list[tuple[float, float]], targets: set[tuple]
                ) -> dict[Key, tuple[float, float]]:
    a_eq, b_eq = (a_eq, b_eq) if a_eq.shape[0] else (None, None)

    def solve(objective: np.ndarray):
        return linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")

    if solve(np.zeros(len(codes))).status != 0:
        raise AttackError(f"cube {group}: no table fits the publication under the stated "
                          "model (its counts contradict its margins)")
    out = {}
    for j, c in enumerate(codes):
        if c not in targets:
            continue
        ends = []
        for sign in (1.0, -1.0):  # minimum, then maximum
            objective = np.zeros(len(codes))
            objective[j] = sign
            res = solve(objective)
            if res.status == 0:
                ends.append(sign * res.fun)
            elif sign < 0 and res.status in (2, 3):  # feasible (checked above): unbounded
                ends.append(math.inf)
            else:
                raise AttackError(f"cube {group}: LP for cell {c} ended with "
                                  f"status {res.status} ({res.message})")
        out[(group, c)] = (ends[0], ends[1])
    return out


def attack(published: pa.Table, rules: Mapping | TableRules, known: Mapping[Key, int] | None = None,
           knowledge: Knowledge = Knowledge(), only: Collection[Key] | None = None
           ) -> dict[Key, tuple[float, float]]:
    """The attacker's (min, max) of every suppressed cell of ``published`` (or of ``only``)."""
    rules = rules if isinstance(rules, TableRules) else TableRules.of(rules)
    known = dict(known or {})
    out = {}
    for group, cells in cubes(published, rules).items():
        targets = {c for c, cell in cells.items() if cell.value is None
                   and (only is None or (group, c) in only)}
        out.update(_attack_cube(group, cells, known, rules, knowledge, targets))
    return out


def breaches(truth: pa.Table, published: pa.Table, rules: Mapping | TableRules,
             earlier: Sequence[pa.Table] = (), knowledge: Knowledge = Knowledge()) -> list[Breach]:
    """Spec rule 5 for every primary cell of ``truth``; also checks the attacker is sound.

    Only primary cells are attacked (secondary cells have no requirement of their own).

    A primary cell that was published is a breach with a zero-width interval.
    """
    rules = rules if isinstance(rules, TableRules) else TableRules.of(rules)
    true_cells = {key: cell.value for key, cell in read_cells(truth, rules).items()}
    published_cells = read_cells(published, rules)
    primary = {key for key, cell in published_cells.items() if rules.is_primary(true_cells.get(key, 0))}
    intervals = attack(published, rules, known_from_earlier(earlier, truth, rules), knowledge,
                       only=primary)
    found = []
    for key in sorted(primary):
        x = true_cells.get(key, 0)
        low, high = intervals.get(key, (float(x), float(x)))  # published: known exactly
        tolerance = TOLERANCE * (1 + x)
        if not low - tolerance <= x <= high + tolerance:
            raise AttackError(f"attacker unsound: cell {key} true {x} outside [{low}, {high}]")
        need_low, need_high = x - min(rules.lower, x), x + rules.upper
        if low > need_low + tolerance or high < need_high - tolerance:
            found.append(Breach(key, x, low, high, need_low, need_high))
    return found

