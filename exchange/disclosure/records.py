"""Record-level protection: scoped pseudonyms, k-anonymity with l-diversity over the
release period and the earlier releases, shuffled output.

* **Time is a quasi-identifier.** ``period`` and every date or timestamp column are
  always part of the equivalence classes, whether or not the contract lists them: the
  recipient knows each record's release period, and a two-month file that is
  5-anonymous overall can have classes of one within a month. They are never
  generalised or suppressed (the contract says a period is never null); each period
  must be protectable on its own.
* **Pseudonyms are scoped** (see :mod:`exchange.disclosure.pseudonym`): with
  ``linkage: none`` per contract and release period, so the same person cannot be
  followed from one release to the next; with ``acrossReleases`` / ``withRecipient``
  per contract, stable.
* **The union of releases stays k-anonymous.** With stable pseudonyms the recipient
  can join a person's records of all releases; a person's *history* (the published
  classes of their earlier records) is then part of their class. The caller passes
  what was already sent (:class:`Release` ``earlier``); this module reads no files. A
  history group whose returning records, or whose earlier persons not returning, would
  number between 1 and k-1 cannot be hidden by suppressing this release's values: its
  links are broken (release-scoped pseudonyms: the records look like new persons) and
  counted in the report. With one record per person and release (``unique``), every
  person's joined trajectory over all releases is then shared by k persons or more.
* **Output order carries nothing:** rows are shuffled with a permutation seeded from
  the pseudonym key and the release (reproducible by the sender only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.disclosure.classes import least_diversity
from exchange.disclosure.kanon import k_anonymise
from exchange.disclosure.outcome import DisclosureReport
from exchange.disclosure.pseudonym import pseudonym_scope, pseudonymise
from exchange.disclosure.rules import DisclosureRules
from exchange.errors import DisclosureError

PERIOD_COLUMN = "period"
_SHUFFLE_CONTEXT = b"gcmx/shuffle/v1/"


@dataclass(frozen=True)
class Release:
    """Which release is being protected and what the sender already sent.

    ``earlier``: the published pseudonym and quasi-identifier columns (and ``period``)
    of the contract's earlier releases, exactly as sent; rows of this release's periods
    are ignored (a revision replaces them)."""

    contract_id: str
    period: str | None = None
    earlier: pa.Table | None = None


def time_columns(table: pa.Table, rules: DisclosureRules) -> tuple[str, ...]:
    """``period`` and date/timestamp columns: always part of the classes, never changed."""
    skip = set(rules.pseudonymise) | set(rules.sensitive_attributes)
    return tuple(f.name for f in table.schema if f.name not in skip and (
        f.name == PERIOD_COLUMN or pa.types.is_date(f.type) or pa.types.is_timestamp(f.type)))


def release_label(table: pa.Table, release: Release | None) -> str | None:
    """The release's period text: given, or the file's distinct periods joined by '+'."""
    if release is not None and release.period:
        return release.period
    if PERIOD_COLUMN in table.column_names and table.num_rows:
        periods = pc.unique(pc.cast(table.column(PERIOD_COLUMN), pa.string())).to_pylist()
        return "+".join(sorted(str(p) for p in periods))
    return None


def _scope(rules: DisclosureRules, release: Release | None, label: str | None) -> str | None:
    """``contract/period`` (per release), ``contract`` (linked), or None without a release
    (library use: the bare column scope)."""
    if release is None:
        return None
    if rules.links_releases:
        return release.contract_id
    if not label:
        raise DisclosureError(
            f"contract {release.contract_id}: pseudonyms are per release but the file has "
            f"no {PERIOD_COLUMN} column and no release period was given",
            hint="add the period column, or pass Release(period=...)")
    return f"{release.contract_id}/{label}"


def _ids(values: pa.ChunkedArray) -> np.ndarray:
    """Integer id of each row's value (nulls share one id)."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    return encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(
        zero_copy_only=False).astype(np.int64)


def _dense(ids: np.ndarray) -> np.ndarray:
    """Renumber ids 0..m-1."""
    return np.unique(ids, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _history(table: pa.Table, rules: DisclosureRules, release: Release | None,
             qis: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per record: an id of the person's published earlier classes (0: no earlier record),
    and per id the number of earlier persons with that history."""
    if not (rules.links_releases and release and release.earlier is not None
            and rules.pseudonymise and release.earlier.num_rows):
        return None
    person = rules.pseudonymise[0]
    earlier = release.earlier
    if PERIOD_COLUMN in earlier.column_names and PERIOD_COLUMN in table.column_names:
        current = pc.unique(pc.cast(table.column(PERIOD_COLUMN), pa.string()))
        earlier = earlier.filter(pc.invert(pc.is_in(
            pc.cast(earlier.column(PERIOD_COLUMN), pa.string()), value_set=current)))
    columns = [c for c in (PERIOD_COLUMN, *qis) if c in earlier.column_names]
    keys = [str(r) for r in zip(*(earlier.column(c).to_pylist() for c in columns), strict=True)]
    classes: dict[str, list[str]] = {}
    for pid, key in zip(earlier.column(person).to_pylist(), keys, strict=True):
        classes.setdefault(pid, []).append(key)
    ids: dict[str, int] = {}
    signature = {pid: ids.setdefault("|".join(sorted(c)), len(ids) + 1)
                 for pid, c in classes.items()}
    persons = np.bincount(np.fromiter(signature.values(), np.int64, len(signature)),
                          minlength=len(ids) + 1)
    out = np.array([signature.get(pid, 0) for pid in table.column(person).to_pylist()],
                   dtype=np.int64)
    return out, persons


def _thin_groups(table, rules, fixed, history, persons) -> np.ndarray:
    """Records of history groups whose links cannot stay: returning records or earlier
    persons not returning between 1 and k-1, or a period's records of the group fewer
    than k or less than l-diverse."""
    k = rules.k
    combined = _dense(fixed * (int(history.max()) + 1) + history)
    sizes = np.bincount(combined)[combined]
    diverse = least_diversity(table, rules.sensitive_attributes, combined) >= rules.l_diversity
    returning = np.bincount(history, minlength=len(persons))
    staying = persons - returning
    thin_group = (returning < k) | ((staying > 0) & (staying < k))
    return (history > 0) & (thin_group[history] | (sizes < k) | ~diverse)


def _unlinked_can_pass(table, rules, fixed, unlinked) -> bool:
    """The records without history pass on their own in every period (or there are none)."""
    groups = _dense(fixed * 2 + unlinked)
    sizes = np.bincount(groups)[groups]
    diverse = least_diversity(table, rules.sensitive_attributes, groups) >= rules.l_diversity
    return bool(((sizes >= rules.k) & diverse)[unlinked].all())


def _break_thin_links(table, rules, key, scope, label, fixed, history, persons) -> tuple:
    """Break the links of thin history groups (:func:`_thin_groups`), then of the smallest
    remaining groups while the records without history could not pass on their own.
    Broken records get a release-scoped pseudonym: they look like new persons."""
    thin = _thin_groups(table, rules, fixed, history, persons)
    while not _unlinked_can_pass(table, rules, fixed, (history == 0) | thin):
        linked = history[(history > 0) & ~thin]
        if not linked.size:
            break  # nothing left to move: k_anonymise refuses the release
        counts = np.bincount(linked)
        counts[counts == 0] = np.iinfo(np.int64).max
        thin |= history == int(np.argmin(counts))
    if not thin.any():
        return table, history, 0
    person = rules.pseudonymise[0]
    fresh = pseudonymise(table.column(person), key,
                         pseudonym_scope(person, f"{scope}/{label}/unlinked"))
    values = pc.if_else(pa.array(thin), fresh, table.column(person))
    table = table.set_column(table.column_names.index(person), person, values)
    return table, np.where(thin, 0, history), int(thin.sum())


def _permutation(n: int, key: bytes | None, scope: str | None) -> np.ndarray:
    seed = (hmac.digest(key, _SHUFFLE_CONTEXT + (scope or "").encode(), hashlib.sha256)
            if key else secrets.token_bytes(32))
    return np.random.default_rng(int.from_bytes(seed, "big")).permutation(n)


def protect_records(table: pa.Table, rules: DisclosureRules, key: bytes | None,
                    report: DisclosureReport, release: Release | None
                    ) -> tuple[pa.Table, DisclosureReport]:
    """Pseudonymise, k-anonymise with l-diversity over period and history, shuffle."""
    label = release_label(table, release)
    scope = _scope(rules, release, label)
    if rules.pseudonymise:
        if key is None:
            raise DisclosureError(
                f"disclosure.pseudonymise names {', '.join(rules.pseudonymise)} but no "
                "pseudonym key was given",
                hint="the sender's own key is {identity}/pseudonym/{PARTY}.key; with "
                     "linkage: withRecipient the bilateral key {identity}/linkage/{A}-{B}.key "
                     "(gcmx protect --identity DIR or --linkage-key-file PATH)")
        for name in rules.pseudonymise:
            if name not in table.column_names:
                raise DisclosureError(f"dataset has no column {name} (named by "
                                      "disclosure.pseudonymise)", hint="fix the contract "
                                      "or the dataset")
            table = table.set_column(table.column_names.index(name), pa.field(name, pa.string()),
                                     pseudonymise(table.column(name), key,
                                                  pseudonym_scope(name, scope)))
        report.columns_pseudonymised = list(rules.pseudonymise)
    report.records_total = table.num_rows
    times = time_columns(table, rules)
    qis = tuple(c for c in rules.quasi_identifiers if c not in times)
    fixed = np.zeros(table.num_rows, dtype=np.int64)
    for name in times:
        fixed = fixed * (table.num_rows + 1) + _ids(table.column(name))
    fixed = _dense(fixed)
    broken = 0
    found = _history(table, rules, release, qis)
    history = None
    if found is not None:
        history, persons = found
        table, history, broken = _break_thin_links(table, rules, key, scope, label, fixed,
                                                   history, persons)
        fixed = _dense(fixed * (int(history.max()) + 1) + history)
    privacy = {"timeColumns": list(times), "linkage": rules.linkage,
               "pseudonymScope": "column" if scope is None
               else "contract" if rules.links_releases else "release",
               "linksBroken": broken, "earlierReleases": history is not None}
    if qis or times:
        table, outcome = k_anonymise(table, rules, fixed=fixed, quasi_identifiers=qis)
        report.records_generalised = outcome.generalised
        report.records_suppressed = outcome.suppressed_records
        report.values_suppressed = outcome.suppressed_values
        report.values_suppressed_by_column = outcome.suppressed_by_column
        report.k_reached = outcome.k_reached
        report.information_loss = outcome.loss
        report.generalisation_levels = outcome.levels
        if rules.sensitive_attributes:
            privacy.update(sensitiveAttributes=list(rules.sensitive_attributes),
                           lDiversity=rules.l_diversity, lReached=outcome.l_reached)
    report.privacy = privacy
    return table.take(pa.array(_permutation(table.num_rows, key, scope))), report
