"""The contract's ``disclosure`` rules, parsed once into a frozen value.

The contract carries them under ``customProperties.disclosure``::

    method: aggregate | records | none
    countColumn, dimensions, totalCode, minimumCellSize,                      # aggregate
    protectionLevels: {lower, upper}, subtotals
    quasiIdentifiers, k, hierarchies, pseudonymise                            # records
    sensitiveAttributes, lDiversity, linkage                                  # records

Records: ``sensitiveAttributes`` must each take at least ``lDiversity`` (default 2)
distinct values in every equivalence class; ``linkage`` says whether pseudonyms may
link a person across releases: ``none`` (default; per-release pseudonyms under the
sender's own key), ``acrossReleases`` (stable pseudonyms under the sender's own key;
k-anonymity then holds for the union of releases) or ``withRecipient`` (stable
pseudonyms under the bilateral linkage key, for reconciliation by the recipient).

``subtotals`` (``{dimension: {parent: [child, ...]}}``) is not written in the contract:
the contract loader resolves it from the code lists' ``hierarchy`` (contracts/codelists.yaml).

Every problem raises :class:`~exchange.errors.DisclosureError` naming the contract
field (``disclosure.<name>``) and what to write instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exchange.errors import DisclosureError

METHODS = ("aggregate", "records", "none")
_AGGREGATE_KEYS = {"countColumn", "dimensions", "totalCode", "minimumCellSize",
                   "protectionLevels", "subtotals"}
LEGACY_INTERVAL_HINT = (
    "replace protectionInterval with protectionLevels: {lower: L, upper: U} (whole numbers "
    ">= 1): a partner who can tell primary cells knows they lie in [1, k-1], so a width "
    "alone cannot be met; levels keep the true value away from both ends of the interval")
_RECORD_KEYS = {"quasiIdentifiers", "k", "hierarchies", "pseudonymise", "sensitiveAttributes",
                "lDiversity", "linkage"}
LINKAGES = ("none", "acrossReleases", "withRecipient")
_KNOWN_KEYS = {"method"} | _AGGREGATE_KEYS | _RECORD_KEYS

Hierarchy = tuple[Mapping[str, str], ...]
Subtotals = Mapping[str, Mapping[str, tuple[str, ...]]]


def _fail(name: str, problem: str, hint: str) -> DisclosureError:
    return DisclosureError(f"contract field disclosure.{name}: {problem}", hint=hint)


def _names(d: Mapping[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    value = d.get(name)
    if value is None:
        if required:
            raise _fail(name, "missing", "list the column names, e.g. [sex, age_group]")
        return ()
    if (not isinstance(value, list | tuple) or not value
            or not all(isinstance(v, str) and v for v in value)):
        raise _fail(name, "must be a non-empty list of column names",
                    "write e.g. [sex, age_group, province]")
    if len(set(value)) != len(value):
        raise _fail(name, "names a column twice", "list each column once")
    return tuple(value)


def _positive_int(d: Mapping[str, Any], name: str, default: int | None) -> int:
    value = d.get(name, default)
    if value is None:
        raise _fail(name, "missing", "give a whole number, e.g. 5")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(name, "must be a whole number of at least 1", "give e.g. 5")
    return value


def _hierarchies(d: Mapping[str, Any], qis: tuple[str, ...]) -> dict[str, Hierarchy]:
    raw = d.get("hierarchies") or {}
    if not isinstance(raw, Mapping):
        raise _fail("hierarchies", "must map a quasi-identifier to a list of levels",
                    "write e.g. {age_band: [{Y0T4: Y0T9, Y5T9: Y0T9}]}")
    out: dict[str, Hierarchy] = {}
    for column, levels in raw.items():
        where = f"hierarchies.{column}"
        if column not in qis:
            raise _fail(where, "is not one of disclosure.quasiIdentifiers",
                        "declare hierarchies only for quasi-identifiers")
        if not isinstance(levels, list | tuple) or not levels:
            raise _fail(where, "must be a non-empty list of levels",
                        "each level maps a code to its wider code: [{Y0T4: Y0T9}]")
        parsed = []
        for i, level in enumerate(levels):
            if not isinstance(level, Mapping) or not level or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in level.items()):
                raise _fail(f"{where}[{i}]", "must map codes (text) to wider codes (text)",
                            "write e.g. {KH-1: KH-NW}")
            parsed.append(dict(level))
        out[column] = tuple(parsed)
    return out


def _levels(d: Mapping[str, Any]) -> tuple[int, int]:
    if "protectionInterval" in d:
        raise _fail("protectionInterval", "is no longer supported", LEGACY_INTERVAL_HINT)
    raw = d.get("protectionLevels")
    if raw is None:
        return 5, 5
    if not isinstance(raw, Mapping) or set(raw) != {"lower", "upper"}:
        raise _fail("protectionLevels", "must map exactly lower and upper to whole numbers",
                    "write protectionLevels: {lower: 3, upper: 5}")
    for side in ("lower", "upper"):
        value = raw[side]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(f"protectionLevels.{side}", "must be a whole number of at least 1",
                        "give e.g. 5: the attacker's interval must reach that far from the "
                        "true value")
    return raw["lower"], raw["upper"]


def _subtotals(d: Mapping[str, Any], dims: tuple[str, ...], total: str) -> dict:
    raw = d.get("subtotals") or {}
    if not isinstance(raw, Mapping):
        raise _fail("subtotals", "must map a dimension to {parent: [children]}",
                    "declare hierarchies in contracts/codelists.yaml (hierarchy:)")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for dim, tree in raw.items():
        where = f"subtotals.{dim}"
        if dim not in dims:
            raise _fail(where, "is not one of disclosure.dimensions",
                        "subtotals apply to classification dimensions only")
        if not isinstance(tree, Mapping) or not all(
                isinstance(p, str) and isinstance(c, list | tuple) and c
                and all(isinstance(x, str) for x in c) for p, c in tree.items()):
            raise _fail(where, "must map each parent code to a non-empty list of child codes",
                        "write e.g. {Y0T9: [Y0T4, Y5T9]}")
        parent_of: dict[str, str] = {}
        for parent, children in tree.items():
            for child in children:
                if child in parent_of or child == parent or total in (child, parent):
                    raise _fail(where, f"code {child} has two parents, is its own parent "
                                       f"or is the total", "each code has at most one parent "
                                       "and the total code is never in a hierarchy")
                parent_of[child] = parent
        for start in parent_of:  # no cycles
            seen, code = {start}, start
            while code in parent_of:
                code = parent_of[code]
                if code in seen:
                    raise _fail(where, f"code {start} is its own ancestor",
                                "a hierarchy is a tree")
                seen.add(code)
        out[dim] = {p: tuple(c) for p, c in tree.items()}
    return out


@dataclass(frozen=True)
class DisclosureRules:
    """What a contract says must happen before a dataset leaves the country."""

    method: str
    count_column: str | None = None
    dimensions: tuple[str, ...] = ()
    total_code: str = "_T"
    minimum_cell_size: int = 5
    protection_lower: int = 5
    protection_upper: int = 5
    subtotals: Subtotals = field(default_factory=dict)
    quasi_identifiers: tuple[str, ...] = ()
    k: int = 5
    hierarchies: Mapping[str, Hierarchy] = field(default_factory=dict)
    pseudonymise: tuple[str, ...] = ()
    sensitive_attributes: tuple[str, ...] = ()
    l_diversity: int = 1
    linkage: str = "none"

    @property
    def links_releases(self) -> bool:
        """Pseudonyms stay the same from one release to the next."""
        return self.linkage != "none"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DisclosureRules:
        """Parse the contract's ``disclosure`` mapping; raise DisclosureError if it is bad."""
        if not isinstance(d, Mapping):
            raise DisclosureError("contract field disclosure: must be a mapping",
                                  hint="write method: aggregate | records | none and its rules")
        unknown = sorted(set(d) - _KNOWN_KEYS - {"protectionInterval"})
        if unknown:
            raise _fail(unknown[0], "is not a known disclosure rule",
                        f"use only {', '.join(sorted(_KNOWN_KEYS))}")
        method = d.get("method")
        if method not in METHODS:
            raise _fail("method", f"must be one of {', '.join(METHODS)}",
                        "aggregate for frequency tables, records for microdata")
        if method == "none":
            return cls(method="none")
        if method == "aggregate":
            return cls._aggregate(d)
        return cls._records(d)

    @classmethod
    def _aggregate(cls, d: Mapping[str, Any]) -> DisclosureRules:
        stray = sorted(set(d) & (_RECORD_KEYS - {"pseudonymise"}))
        if stray:
            raise _fail(stray[0], "belongs to method records, not aggregate",
                        "remove it or change disclosure.method")
        count = d.get("countColumn")
        if not isinstance(count, str) or not count:
            raise _fail("countColumn", "missing", "name the integer count column, e.g. count")
        dims = _names(d, "dimensions", required=True)
        if count in dims:
            raise _fail("dimensions", "contains the count column",
                        "list only classification columns")
        total = d.get("totalCode", "_T")
        if not isinstance(total, str) or not total:
            raise _fail("totalCode", "must be a non-empty code", 'use the SDMX total "_T"')
        pseudo = _names(d, "pseudonymise", required=False)
        if pseudo:
            raise _fail("pseudonymise", "applies to method records only",
                        "aggregates carry no identifiers; remove it")
        lower, upper = _levels(d)
        return cls(method="aggregate", count_column=count, dimensions=dims, total_code=total,
                   minimum_cell_size=_positive_int(d, "minimumCellSize", 5),
                   protection_lower=lower, protection_upper=upper,
                   subtotals=_subtotals(d, dims, total))

    @classmethod
    def _records(cls, d: Mapping[str, Any]) -> DisclosureRules:
        stray = sorted(set(d) & (_AGGREGATE_KEYS | {"protectionInterval"}))
        if stray:
            raise _fail(stray[0], "belongs to method aggregate, not records",
                        "remove it or change disclosure.method")
        qis = _names(d, "quasiIdentifiers", required=False)
        pseudo = _names(d, "pseudonymise", required=False)
        if not qis and not pseudo:
            raise _fail("quasiIdentifiers", "missing (and nothing to pseudonymise)",
                        "list the quasi-identifiers, e.g. [sex, age_band, province]")
        overlap = sorted(set(qis) & set(pseudo))
        if overlap:
            raise _fail("pseudonymise", f"also names quasi-identifier {overlap[0]}",
                        "a column is either an identifier or a quasi-identifier")
        return cls(method="records", quasi_identifiers=qis, k=_positive_int(d, "k", 5),
                   hierarchies=_hierarchies(d, qis), pseudonymise=pseudo,
                   **_records_privacy(d, qis, pseudo))

    def to_dict(self) -> dict[str, Any]:
        """The rules in the contract's own spelling (JSON-able)."""
        if self.method == "aggregate":
            return {"method": "aggregate", "countColumn": self.count_column,
                    "dimensions": list(self.dimensions), "totalCode": self.total_code,
                    "minimumCellSize": self.minimum_cell_size,
                    "protectionLevels": {"lower": self.protection_lower,
                                         "upper": self.protection_upper},
                    **({"subtotals": {d: {p: list(c) for p, c in t.items()}
                                      for d, t in self.subtotals.items()}}
                       if self.subtotals else {})}
        if self.method == "records":
            return {"method": "records", "quasiIdentifiers": list(self.quasi_identifiers),
                    "k": self.k, "pseudonymise": list(self.pseudonymise),
                    "hierarchies": {c: [dict(lv) for lv in levels]
                                    for c, levels in self.hierarchies.items()},
                    **self._records_privacy_dict()}
        return {"method": "none"}

    def _records_privacy_dict(self) -> dict[str, Any]:
        """sensitiveAttributes / lDiversity / linkage, left out when not set."""
        out: dict[str, Any] = {}
        if self.sensitive_attributes:
            out.update(sensitiveAttributes=list(self.sensitive_attributes),
                       lDiversity=self.l_diversity)
        if self.linkage != "none":
            out["linkage"] = self.linkage
        return out


def _records_privacy(d: Mapping[str, Any], qis: tuple[str, ...],
                     pseudo: tuple[str, ...]) -> dict[str, Any]:
    """sensitiveAttributes, lDiversity and linkage of a records contract."""
    sensitive = _names(d, "sensitiveAttributes", required=False)
    taken = sorted(set(sensitive) & (set(qis) | set(pseudo)))
    if taken:
        raise _fail("sensitiveAttributes", f"also names {taken[0]}, a quasi-identifier "
                    "or identifier", "a sensitive attribute is what k-anonymity hides, "
                    "not what it groups by")
    if "lDiversity" in d and not sensitive:
        raise _fail("lDiversity", "given without disclosure.sensitiveAttributes",
                    "name the sensitive attributes, e.g. [return_reason]")
    diversity = _positive_int(d, "lDiversity", 2) if sensitive else 1
    linkage = d.get("linkage", "none")
    if linkage not in LINKAGES:
        raise _fail("linkage", f"must be one of {', '.join(LINKAGES)}",
                    "none unless the recipient must follow a person across releases")
    return {"sensitive_attributes": sensitive, "l_diversity": diversity, "linkage": linkage}


def as_rules(rules: DisclosureRules | Mapping[str, Any]) -> DisclosureRules:
    """Accept parsed rules or the contract's raw mapping."""
    return rules if isinstance(rules, DisclosureRules) else DisclosureRules.from_dict(rules)
