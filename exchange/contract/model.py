"""Agreed data contracts (ODCS v3 YAML): loading, schema validation and the model.

A contract lives in ``contracts/<id>.odcs.yaml`` with ids like ``workers_deployed.khm-tha``
(dataset, then sender-recipient in lower case). Its executable side, the Great
Expectations suite, lives in ``expectations/<id>-<version>.json``. The contract
``hash`` covers both files, so a signature over it binds the schema *and* the checks.

Exchange terms sit in the contract's ``customProperties``: sender, recipients, schedule,
period, revisionPolicy, classification, retention, legalBasis, disclosure. They are parsed
in one place, :mod:`exchange.contract.terms`; this module adds the JSON Schema check, the
columns, the suite and the hash.
"""

from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from exchange.canonical import canonical_json
from exchange.contract.terms import (  # noqa: F401 - the contract's vocabulary, used from here too
    CHILD_AGE_CODES,
    CLASSIFICATIONS,
    CONTRACT_SUFFIX,
    ID_PATTERN,
    PERIODS,
    REQUIRED_TERMS,
    RESTRICTED_CLASSIFICATIONS,
    SAFE_LOADER,
    ContractTerms,
    terms_from_document,
)
from exchange.errors import ContractError

HASH_DOMAIN = b"gcmx-contract-hash-v1\n"


@dataclass(frozen=True)
class Column:
    """One agreed column.

    ``required``: the column must be present in every file (only columns flagged
    ``addedByProtection`` may be absent from a raw file, e.g. OBS_STATUS).
    ``nullable``: nulls are allowed (ODCS ``required: false``).
    """

    name: str
    type: str
    physical_type: str | None
    required: bool
    nullable: bool
    codelist: tuple[str, ...] | None = None
    codelist_name: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    unique: bool = False
    description: str = ""


@dataclass(frozen=True)
class Period:
    """A reporting period: its text (``2025-03`` or ``2025-Q1``) and first/last day."""

    text: str
    start: date
    end: date


@dataclass(frozen=True, eq=False)
class Contract(ContractTerms):
    """A loaded, schema-valid contract: the terms of exchange it states (with the code-list
    hierarchies resolved into its disclosure rules), its columns, suite and hash. Two loads
    are two objects (identity equality and hash, as before the terms became a base)."""

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    columns: dict[str, Column]
    path: Path
    suite_path: Path
    hash: str
    document: dict[str, Any] = field(repr=False)

    @property
    def carries_children_data(self) -> bool:
        """True when the data is about children or may hold records of minors."""
        if self.classification == "children":
            return True
        return any(c.codelist and CHILD_AGE_CODES & set(c.codelist) for c in self.columns.values())

    @property
    def restricted(self) -> bool:
        """Reports on this data must never carry record values."""
        return self.classification in RESTRICTED_CLASSIFICATIONS

    @property
    def suite_name(self) -> str:
        """The name the GX suite must carry: ``<id>-<version>``."""
        return f"{self.id}-{self.version}"


REPOSITORY_CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def expectations_beside(contracts_dir: Path) -> Path:
    """Suites sit in ``expectations/`` beside the contracts directory, unless the caller says."""
    return Path(contracts_dir).parent / "expectations"


@cache
def _odcs_validator():
    import importlib.resources

    import jsonschema

    text = importlib.resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    schema = json.loads(text)
    return jsonschema.Draft202012Validator(schema)


def odcs_errors(document: Any) -> list[str]:
    """Every ODCS JSON Schema violation of a parsed contract, as ``path: message`` lines."""
    errors = sorted(_odcs_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    lines = []
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        lines.append(f"{where}: {error.message[:300]}")
    return lines


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; malformed YAML becomes a ContractError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(
            f"{path}: no such contract file", hint="check the contract id and GCMX_CONTRACTS"
        ) from None
    try:
        return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - the safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ContractError(f"{path}: malformed YAML{where}: {problem}", hint="fix the YAML syntax") from None


def custom_properties(node: dict[str, Any]) -> dict[str, Any]:
    """ODCS ``customProperties`` list as a dict ``{property: value}``."""
    return {item["property"]: item.get("value") for item in node.get("customProperties") or []}


def contract_hash(document: Any, suite: Any) -> str:
    """SHA-256 hex over the canonical bytes (:mod:`exchange.canonical`) of a contract document and its suite."""
    digest = hashlib.sha256(HASH_DOMAIN)
    digest.update(canonical_json(document))
    digest.update(b"\n")
    digest.update(canonical_json(suite))
    return digest.hexdigest()


def read_suite(path: Path, contract_path: Path) -> dict[str, Any]:
    """Parse a GX suite JSON file; errors name both the suite and its contract."""
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(
            f"{contract_path}: expectation suite {path} is missing",
            hint="write the suite for this contract version (`python -m exchange.devkit.contract_generator`, "
            "from a checkout with the devkit extra) or fix the version",
        ) from None
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"{path}: malformed JSON at line {exc.lineno}: {exc.msg}", hint="fix the JSON"
        ) from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise ContractError(
            f"{path}: not a GX expectation suite (no 'expectations' list)", hint="regenerate the suite"
        )
    return suite


def _column(prop: dict[str, Any]) -> Column:
    options = prop.get("logicalTypeOptions") or {}
    extra = custom_properties(prop)
    codelist = None
    for rule in prop.get("quality") or []:
        if rule.get("metric") == "invalidValues" and "validValues" in (rule.get("arguments") or {}):
            codelist = tuple(rule["arguments"]["validValues"])
    nullable = not prop.get("required", False)
    return Column(
        name=prop["name"],
        type=prop.get("logicalType", "string"),
        physical_type=prop.get("physicalType"),
        required=not (nullable and extra.get("addedByProtection") is True),
        nullable=nullable,
        codelist=codelist,
        codelist_name=extra.get("codelist"),
        minimum=options.get("minimum"),
        maximum=options.get("maximum"),
        pattern=options.get("pattern"),
        unique=bool(prop.get("unique", False)),
        description=prop.get("description", ""),
    )


def columns_from_document(document: dict[str, Any]) -> dict[str, Column]:
    """The columns of a contract document's (single) schema object, in order."""
    schema = document.get("schema") or [{}]
    return {prop["name"]: _column(prop) for prop in schema[0].get("properties") or []}


def codelist_hierarchies(contracts_dir: Path) -> dict[str, dict[str, list[str]]]:
    """``{code list: {parent: [children]}}`` from ``contracts_dir/codelists.yaml`` (if any)."""
    path = contracts_dir / "codelists.yaml"
    if not path.is_file():
        return {}
    lists = read_yaml(path) or {}
    if not isinstance(lists, dict):
        raise ContractError(f"{path}: not a mapping of code lists", hint="see its header")
    out = {}
    for name, body in lists.items():
        tree = body.get("hierarchy") if isinstance(body, dict) else None
        if tree is None:
            continue
        if not isinstance(tree, dict) or not all(
            isinstance(children, list) and all(isinstance(c, str) for c in children)
            for children in tree.values()
        ):
            raise ContractError(
                f"{path}: {name}.hierarchy must map each parent code to a list of child codes",
                hint="write e.g. hierarchy: {Y0T9: [Y0T4, Y5T9]}",
            )
        codes = set(body.get("codes") or {})
        strangers = sorted({str(c) for p, cs in tree.items() for c in [p, *cs]} - codes)
        if strangers:
            raise ContractError(
                f"{path}: {name}.hierarchy names codes {strangers} that are not in its codes",
                hint="a hierarchy may only use the list's own codes",
            )
        out[name] = {str(p): [str(c) for c in cs] for p, cs in tree.items()}
    return out


def resolve_subtotals(disclosure: dict[str, Any], columns: dict[str, Column],
                      hierarchies: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    """Aggregate rules with ``subtotals``: each dimension's code-list hierarchy (a margin)."""
    if disclosure.get("method") != "aggregate":
        return disclosure
    subtotals = {}
    for dim in disclosure.get("dimensions") or []:
        column = columns.get(dim) if isinstance(dim, str) else None
        tree = hierarchies.get(column.codelist_name) if column and column.codelist_name else None
        if tree:
            subtotals[dim] = tree
    return {**disclosure, "subtotals": subtotals} if subtotals else disclosure


def contract_from_document(document: Any, path: Path, suite_path: Path,
                           hierarchies: dict[str, dict[str, list[str]]] | None = None) -> Contract:
    """Build a Contract from a parsed document: ODCS schema, terms and suite are checked.

    ``hierarchies`` (code list -> parent -> children, from codelists.yaml) become the
    aggregate disclosure rules' ``subtotals``.
    """
    if not isinstance(document, dict):
        raise ContractError(f"{path}: not a YAML mapping", hint="a contract is an ODCS v3 document")
    problems = odcs_errors(document)
    if problems:
        shown = "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        raise ContractError(f"{path}: breaks the ODCS v3 schema: {shown}", hint="fix the fields named")
    terms = terms_from_document(document, path)
    columns = columns_from_document(document)
    suite = read_suite(suite_path, path)
    try:
        digest = contract_hash(document, suite)
    except ValueError:  # NaN or infinity: not JSON, so nothing a signature could cover
        raise ContractError(f"{path}: holds a number that is not JSON (NaN or infinity)",
                            hint="write the value as a finite number or a string") from None
    return Contract(
        **{f.name: getattr(terms, f.name) for f in fields(ContractTerms) if f.name != "disclosure"},
        disclosure=resolve_subtotals(terms.disclosure, columns, hierarchies or {}),
        columns=columns,
        path=path,
        suite_path=suite_path,
        hash=digest,
        document=document,
    )


def load_contract_file(path: Path, expectations_dir: Path | None = None) -> Contract:
    """Load a contract from an explicit file path (its suite from ``expectations_dir``)."""
    path = Path(path)
    document = read_yaml(path)
    expectations_dir = Path(expectations_dir) if expectations_dir else expectations_beside(path.parent)
    version = document.get("version") if isinstance(document, dict) else None
    suite_path = (
        expectations_dir / f"{document.get('id') if isinstance(document, dict) else path.stem}-{version}.json"
    )
    return contract_from_document(document, path, suite_path, codelist_hierarchies(path.parent))


def load_contract(contract_id: str, contracts_dir: Path = REPOSITORY_CONTRACTS,
                  expectations_dir: Path | None = None) -> Contract:
    """Load and check the contract ``contracts_dir/<contract_id>.odcs.yaml`` with its suite
    (from ``expectations_dir``, default ``expectations/`` beside ``contracts_dir``)."""
    contracts_dir = Path(contracts_dir)
    path = contracts_dir / f"{contract_id}{CONTRACT_SUFFIX}"
    if not path.is_file():
        known = ", ".join(
            sorted(p.name.removesuffix(CONTRACT_SUFFIX) for p in contracts_dir.glob(f"*{CONTRACT_SUFFIX}"))
        )
        raise ContractError(
            f"no contract {contract_id!r} in {contracts_dir}", hint=f"known contracts: {known or 'none'}"
        )
    contract = load_contract_file(path, expectations_dir or expectations_beside(contracts_dir))
    if contract.id != contract_id:
        raise ContractError(
            f"{path}: file declares id {contract.id!r}, expected {contract_id!r}",
            hint="name the file after the contract id",
        )
    return contract


def all_contracts(contracts_dir: Path = REPOSITORY_CONTRACTS, expectations_dir: Path | None = None) -> list[Contract]:
    """Every contract in the directory, sorted by id."""
    contracts_dir = Path(contracts_dir)
    ids = sorted(p.name.removesuffix(CONTRACT_SUFFIX) for p in contracts_dir.glob(f"*{CONTRACT_SUFFIX}"))
    return [load_contract(i, contracts_dir, expectations_dir) for i in ids]


def contracts_between(sender: str, recipient: str, contracts_dir: Path = REPOSITORY_CONTRACTS,
                      expectations_dir: Path | None = None) -> list[Contract]:
    """Contracts under which ``sender`` sends to ``recipient`` (alpha-3 codes)."""
    sender, recipient = sender.upper(), recipient.upper()
    return [c for c in all_contracts(contracts_dir, expectations_dir)
            if c.sender == sender and recipient in c.recipients]


def parse_period(contract: Contract, period: str) -> Period:
    """Check ``period`` against the contract's period kind; return its first and last day."""
    match = PERIODS[contract.period].match(period or "")
    if not match:
        example = "2025-03" if contract.period == "monthly" else "2025-Q1"
        raise ContractError(
            f"dataset {contract.dataset}: period {period!r} is not a {contract.period} period",
            hint=f"contract {contract.id} expects periods like {example}",
        )
    year, part = int(match.group(1)), int(match.group(2))
    first_month, last_month = (part, part) if contract.period == "monthly" else (3 * part - 2, 3 * part)
    end_day = calendar.monthrange(year, last_month)[1]
    return Period(period, date(year, first_month, 1), date(year, last_month, end_day))
