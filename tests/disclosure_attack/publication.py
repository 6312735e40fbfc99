"""Spec rules 1-3 on a published table: columns, values and the SDMX flags."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from tests.disclosure_attack.attacker import STATUS_COLUMNS, TableRules, read_cells


def publication_problems(truth: pa.Table, published: pa.Table, rules: Mapping | TableRules) -> list[str]:
    """What the published table gets wrong under spec rules 1-3 (flags, values, columns).

    Checks: only the input's columns plus OBS_STATUS and CONF_STATUS; every input cell
    once (an added row is a zero of the cube's codes); a published cell carries its true
    count, A and F; a suppressed cell a null count, M and C (so primary and secondary
    cells look the same); no published count in 1..k-1; no schema metadata naming the
    primary/secondary split.
    """
    rules = rules if isinstance(rules, TableRules) else TableRules.of(rules)
    problems = []
    expected = set(truth.column_names) | set(STATUS_COLUMNS)
    if set(published.column_names) != expected:
        problems.append(f"columns {sorted(published.column_names)} != {sorted(expected)}")
        return problems
    if not pa.types.is_integer(published.schema.field(rules.count).type):
        problems.append(f"count column type {published.schema.field(rules.count).type}")
    metadata = b" ".join(k + b"=" + v for k, v in (published.schema.metadata or {}).items()).lower()
    if b"primary" in metadata or b"secondary" in metadata:
        problems.append("schema metadata names primary/secondary")
    true_cells = read_cells(truth, rules)
    cells = read_cells(published, rules)
    missing = set(true_cells) - set(cells)
    if missing:
        problems.append(f"{len(missing)} input cell(s) not in the publication, e.g. {min(missing)}")
    for key, cell in cells.items():
        x = true_cells[key].value if key in true_cells else 0
        if cell.value is None:
            if (cell.obs, cell.conf) != ("M", "C"):
                problems.append(f"suppressed cell {key} flagged {cell.obs}/{cell.conf}, not M/C")
        elif (cell.obs, cell.conf) != ("A", "F"):
            problems.append(f"published cell {key} flagged {cell.obs}/{cell.conf}, not A/F")
        elif cell.value != x:
            problems.append(f"published cell {key} is {cell.value}, true {x}")
        elif rules.is_primary(cell.value):
            problems.append(f"published cell {key} holds {cell.value}, in 1..k-1")
    return problems
