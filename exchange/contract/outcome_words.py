"""Validation outcomes in sentences: what broke the contract, in words an officer reads.

"column `workers` is missing; column `passport_no` is not in the contract", "column `sex`:
3 rows hold a value outside the allowed set (F, M, _T)". Sentences use counts and the
contract's own facts (column names, code lists, bounds, patterns), never record values.
:func:`closest_contract` names the contract whose columns a file matches best, for a
file given to the wrong contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

SHOWN_CODES = 8


def _rows(count: Any, verb: str = "") -> str:
    """``1 row is``, ``3 rows are`` (``verb`` given as its plural form: are, hold, do not)."""
    number = int(count or 0)
    one = {"are": "is", "do not": "does not"}.get(verb, verb + "s" if verb else "")
    return f"{number:,} row{'' if number == 1 else 's'}" + (f" {one if number == 1 else verb}" if verb else "")


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _codes(values: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in list(values)[:SHOWN_CODES])
    more = len(values) - SHOWN_CODES
    return f"{shown}, … ({len(values)} codes)" if more > 0 else shown


def _bounds(low: Any, high: Any) -> str:
    low, high = _number(low), _number(high)
    if low is not None and high is not None:
        return f"exactly {low}" if low == high else f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _names(columns: Iterable[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def _logical_type(type_list: Sequence[str]) -> str:
    """The contract's logical type whose GX type list this is (else the list itself)."""
    from exchange.contract.suite import TYPE_LISTS

    found = [name for name, types in TYPE_LISTS.items() if list(types) == list(type_list)]
    return " or ".join(found[:1] or map(str, type_list))


def column_set_sentence(expected: Sequence[str], observed: Sequence[str]) -> str:
    """Missing and extra columns in words (the contract's set against the file's)."""
    missing = [c for c in expected if c not in set(observed)]
    extra = [c for c in observed if c not in set(expected)]
    parts = [f"column {_names([c])} is missing" for c in missing]
    parts += [f"column {_names([c])} is not in the contract" for c in extra]
    return "; ".join(parts) or "the columns are in another order than the contract's"


def _row_count(params: dict, observed: Any) -> str:
    low, high = params.get("min_value"), params.get("max_value")
    rows = "no rows" if not observed else _rows(observed)
    return f"the file has {rows}; the contract wants {_bounds(low, high)}"


def _column_sentence(kind: str, column: str, count: Any, params: dict, observed: Any) -> str:
    low, high = params.get("min_value"), params.get("max_value")
    if kind == "expect_column_to_exist":
        return f"column `{column}` is missing"
    if kind in ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type"):
        wanted = _logical_type(params.get("type_list") or [params.get("type_")])
        found = f"is {observed}, not" if observed else "is not"
        return f"column `{column}` {found} {wanted} as the contract says"
    if kind == "expect_column_unique_value_count_to_be_between":
        return f"column `{column}` holds {observed} different values; the contract wants {_bounds(low, high)}"
    if not count:  # failed without failing rows: the column could not be evaluated this way
        return f"column `{column}` could not be checked by {kind}"
    if kind == "expect_column_values_to_not_be_null":
        return f"column `{column}`: {_rows(count, 'are')} empty (null), but the contract requires a value"
    if kind == "expect_column_values_to_be_in_set":
        return (f"column `{column}`: {_rows(count, 'hold')} a value outside the allowed set "
                f"({_codes(params.get('value_set') or [])})")
    if kind == "expect_column_values_to_be_between":
        return f"column `{column}`: {_rows(count, 'are')} outside the allowed range ({_bounds(low, high)})"
    if kind == "expect_column_values_to_be_unique":
        return f"column `{column}`: {_rows(count, 'repeat')} a value that must be unique"
    if kind == "expect_column_values_to_match_regex":
        return f"column `{column}`: {_rows(count, 'do not')} match the pattern `{params.get('regex')}`"
    return f"column `{column}`: {_rows(count, 'fail')} {kind}"


def outcome_sentence(outcome: Any) -> str:
    """One failed expectation (an ExpectationOutcome) as a sentence."""
    params = outcome.parameters or {}
    kind, column = outcome.expectation, outcome.column
    count = outcome.counts.get("unexpected_count")
    if kind == "expect_table_columns_to_match_set" and isinstance(outcome.observed, list):
        return column_set_sentence(params.get("column_set") or [], outcome.observed)
    if kind == "expect_table_row_count_to_be_between":
        return _row_count(params, outcome.observed)
    if kind == "expect_table_column_count_to_equal":
        return f"the file has {outcome.observed} columns; the contract has {params.get('value')}"
    if outcome.error and column:
        return f"column `{column}` could not be checked by {kind}"
    if outcome.error:
        return f"{kind} could not be checked"
    if kind in ("expect_compound_columns_to_be_unique", "expect_select_column_values_to_be_unique_within_record"):
        columns = _names(params.get("column_list") or [])
        return f"columns {columns}: {_rows(count, 'repeat')} a combination that must be unique"
    if column:
        return _column_sentence(kind, column, count, params, outcome.observed)
    return f"{kind} does not hold" + (f" on {_rows(count)}" if count else "")


def _mistyped_columns(outcomes: Iterable[Any]) -> set[str]:
    return {o.column for o in outcomes if not o.success and o.column and o.expectation in
            ("expect_column_values_to_be_in_type_list", "expect_column_values_to_be_of_type")}


def _missing_columns(outcomes: Iterable[Any]) -> set[str]:
    missing: set[str] = set()
    for o in outcomes:
        if o.expectation == "expect_table_columns_to_match_set" and isinstance(o.observed, list):
            missing |= set((o.parameters or {}).get("column_set") or []) - set(o.observed)
        elif o.expectation == "expect_column_to_exist" and not o.success and o.column:
            missing.add(o.column)
    return missing


def failure_sentences(outcomes: Sequence[Any]) -> list[str]:
    """A sentence per failed expectation, once each; a missing column is said once, not again
    by every expectation on it."""
    missing = _missing_columns(outcomes)
    mistyped = _mistyped_columns(outcomes)
    empty = any(o.expectation == "expect_table_row_count_to_be_between" and not o.success and not o.observed
                for o in outcomes)
    said_missing = any(o.expectation == "expect_table_columns_to_match_set" and not o.success
                       and isinstance(o.observed, list) for o in outcomes)
    sentences: list[str] = []
    for outcome in outcomes:
        if outcome.success:
            continue
        named = {outcome.column, *((outcome.parameters or {}).get("column_list") or [])} & missing
        if named and (said_missing or outcome.expectation != "expect_column_to_exist"):
            continue
        if outcome.column in mistyped and "type" not in outcome.expectation:
            continue  # a column of the wrong type fails its other checks as a consequence
        if empty and outcome.column:
            continue  # an empty file fails its column checks as a consequence
        sentence = outcome_sentence(outcome)
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


def closest_contract(columns: Sequence[str], given: Any, contracts: Iterable[Any]) -> Any | None:
    """The contract whose columns match ``columns`` better than ``given``'s do (None if none does).

    The score is the share of columns in common (Jaccard), then the parties shared with
    ``given``; ties keep ``given``."""
    have = set(columns)
    ours = {given.sender, *given.recipients}

    def score(contract: Any) -> tuple[float, int]:
        theirs = set(contract.columns)
        share = len(have & theirs) / len(have | theirs) if have | theirs else 0.0
        return share, len(ours & {contract.sender, *contract.recipients})

    best, best_score = None, score(given)
    for contract in contracts:
        if contract.id != given.id and score(contract) > best_score:
            best, best_score = contract, score(contract)
    return best
