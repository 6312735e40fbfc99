"""Lint contracts beyond the ODCS schema: registry, code lists, disclosure rules.

The party registry (``contracts/parties.yaml``) names the parties, their keyring entries
and which datasets flow in which direction under each bilateral agreement; the code
lists (``contracts/codelists.yaml``) hold every code a contract may use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.contract.model import CONTRACT_SUFFIX, Contract, load_contract_file, read_yaml
from exchange.errors import ContractError

AGGREGATE_STATUS = ("OBS_STATUS", "CONF_STATUS")


@dataclass(frozen=True)
class Registry:
    """Parties, agreements (with their flows) and code lists."""

    parties: dict[str, Any]
    agreements: dict[str, Any]
    codelists: dict[str, Any]

    def flows(self) -> set[tuple[str, str, str]]:
        """Every agreed (dataset, sender, recipient)."""
        return {(f["dataset"], f["from"], f["to"]) for a in self.agreements.values() for f in a["flows"]}


def load_registry(contracts_dir: Path) -> Registry:
    """Read parties.yaml and codelists.yaml from the contracts directory."""
    parties_doc = read_yaml(contracts_dir / "parties.yaml") or {}
    codelists = read_yaml(contracts_dir / "codelists.yaml") or {}
    if not isinstance(parties_doc, dict) or "parties" not in parties_doc or "agreements" not in parties_doc:
        raise ContractError(
            f"{contracts_dir / 'parties.yaml'}: needs 'parties' and 'agreements'",
            hint="see the registry format in the file's header",
        )
    return Registry(parties_doc["parties"], parties_doc["agreements"], codelists)


def _column_problems(contract: Contract, registry: Registry) -> list[str]:
    problems = []
    for column in contract.columns.values():
        if column.codelist is None:
            continue
        where = f"column {column.name}"
        if column.codelist_name is None:
            problems.append(f"{where}: has valid values but names no code list (customProperties codelist)")
            continue
        known = registry.codelists.get(column.codelist_name)
        if known is None:
            problems.append(
                f"{where}: unknown code list {column.codelist_name!r} "
                f"(known: {', '.join(sorted(registry.codelists))})"
            )
            continue
        strangers = [c for c in column.codelist if c not in known["codes"]]
        if strangers:
            problems.append(f"{where}: codes {strangers} are not in {column.codelist_name}")
    return problems


def aggregate_rule_problems(rules: dict[str, Any]) -> list[str]:
    """Aggregate disclosure parameters that cannot be met or are no longer supported.

    Each finding names the field, what is wrong and what to write instead.
    """
    from exchange.disclosure.rules import LEGACY_INTERVAL_HINT, DisclosureRules
    from exchange.errors import DisclosureError

    problems = []
    if "protectionInterval" in rules:
        problems.append(f"disclosure.protectionInterval is no longer supported: {LEGACY_INTERVAL_HINT}")
    elif "protectionLevels" not in rules:
        problems.append(
            "disclosure.protectionLevels is missing: add protectionLevels: {lower: L, upper: U} "
            "(whole numbers >= 1), how far the partner's interval for a suppressed cell must "
            "reach below and above its true value"
        )
    else:
        try:
            DisclosureRules.from_dict(rules)
        except DisclosureError as exc:
            problems.append(f"{exc.message.removeprefix('contract field ')} ({exc.hint})")
    minimum = rules.get("minimumCellSize")
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 2:
        problems.append("disclosure.minimumCellSize must be a whole number of at least 2 "
                        "(cells below it are suppressed)")
    return problems


def _disclosure_problems(contract: Contract) -> list[str]:
    rules, columns = contract.disclosure, contract.columns
    method = rules.get("method")
    if method == "aggregate":
        problems = []
        count = columns.get(rules.get("countColumn"))
        if count is None or count.type != "integer" or not count.nullable:
            problems.append("disclosure.countColumn must name a nullable integer column")
        problems += [
            f"disclosure.dimensions: no column {d!r}" for d in rules.get("dimensions", []) if d not in columns
        ]
        problems += [
            f"aggregate contract lacks optional column {s}"
            for s in AGGREGATE_STATUS
            if s not in columns or columns[s].required
        ]
        return problems + aggregate_rule_problems(rules)
    if method == "records":
        problems = [
            f"disclosure.quasiIdentifiers: {q!r} must be a nullable column"
            for q in rules.get("quasiIdentifiers", [])
            if q not in columns or not columns[q].nullable
        ]
        problems += [
            f"disclosure.pseudonymise: {p!r} must be a non-null string column"
            for p in rules.get("pseudonymise", [])
            if p not in columns or columns[p].nullable or columns[p].type != "string"
        ]
        if not isinstance(rules.get("k"), int) or rules["k"] < 2:
            problems.append("disclosure.k must be an integer of at least 2")
        for name, levels in (rules.get("hierarchies") or {}).items():
            codes = set(columns[name].codelist or ()) if name in columns else set()
            for level in levels:
                missing = sorted(set(level.values()) - codes)
                if missing:
                    problems.append(
                        f"disclosure.hierarchies.{name}: generalised codes {missing} not in code list"
                    )
        return problems
    if method == "none":
        return (
            []
            if contract.classification == "aggregate"
            else [f"disclosure.method none is not allowed for {contract.classification} data"]
        )
    return [f"disclosure.method {method!r} is not aggregate, records or none"]


def contract_problems(contract: Contract, registry: Registry) -> list[str]:
    """Every lint finding for a loaded contract (empty when it is clean)."""
    problems = []
    for party in (contract.sender, *contract.recipients):
        if party not in registry.parties:
            problems.append(f"party {party} is not in the registry")
    for recipient in contract.recipients:
        if (contract.dataset, contract.sender, recipient) not in registry.flows():
            problems.append(f"no agreement lets {contract.sender} send {contract.dataset} to {recipient}")
    if len(contract.schedule.split()) != 5:
        problems.append(f"schedule {contract.schedule!r} is not a 5-field cron expression")
    return problems + _column_problems(contract, registry) + _disclosure_problems(contract)


def lint_file(path: Path, registry: Registry) -> list[str]:
    """Lint one contract file; loading errors (YAML, ODCS schema, terms) become findings."""
    try:
        contract = load_contract_file(path)
    except ContractError as exc:
        return [exc.message]
    return contract_problems(contract, registry)


def lint_all(contracts_dir: Path) -> dict[Path, list[str]]:
    """Lint every contract in a directory: ``{path: findings}``."""
    registry = load_registry(contracts_dir)
    return {p: lint_file(p, registry) for p in sorted(contracts_dir.glob(f"*{CONTRACT_SUFFIX}"))}
