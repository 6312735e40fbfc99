"""The terms of exchange a contract states, parsed once: :func:`terms_from_document`.

The document is read with the ODCS v3 pydantic model (``open_data_contract_standard``); the
terms sit in its ``customProperties`` (sender, recipients, schedule, period, revisionPolicy,
classification, legalBasis, disclosure, purpose, prohibitedUses) and its ``slaProperties``
(retention); retention, purpose and prohibited uses are read by :mod:`exchange.contract.usage_terms`. Loading a contract
(:func:`exchange.contract.model.contract_from_document`, which also checks the ODCS JSON Schema,
the suite and the hash) and building the DAGs (:func:`contract_terms`, fast: no JSON Schema, no
suite) both take the terms from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from exchange.contract.usage_terms import Retention, UsageTerms, usage_terms
from exchange.errors import ContractError

CONTRACT_SUFFIX = ".odcs.yaml"
# YAML's safe loader, in C when libyaml is there (ten times faster than the pure-Python one).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CLASSIFICATIONS = ("children", "personal", "aggregate")
RESTRICTED_CLASSIFICATIONS = ("children", "personal")
PERIODS = {
    "monthly": re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])\Z"),  # ASCII digits, nothing after (no "\n")
    "quarterly": re.compile(r"^([0-9]{4})-Q([1-4])\Z"),
}
CHILD_AGE_CODES = frozenset({"Y0T4", "Y5T9", "Y10T14", "Y15T17", "Y0T9", "Y10T17", "Y0T17"})
REQUIRED_TERMS = (
    "sender",
    "recipients",
    "schedule",
    "period",
    "revisionPolicy",
    "classification",
    "legalBasis",
    "disclosure",
)
ID_PATTERN = re.compile(r"^([a-z][a-z0-9_]*)\.([a-z]{3})-([a-z]{3})$")


@dataclass(frozen=True)
class ContractTerms:
    """The terms of exchange a contract states (its ``customProperties`` and names), checked.

    Read by :func:`terms_from_document`, the one parser of the terms: loading a contract and
    building the DAGs (which reads only these, fast) both use it."""

    id: str
    version: str
    name: str
    dataset: str
    sender: str
    recipients: tuple[str, ...]
    schedule: str
    period: str
    classification: str
    revision_policy: str
    usage: UsageTerms
    legal_basis: str
    disclosure: dict[str, Any]

    @property
    def retention(self) -> Retention:
        """How long the data may be kept, and from when."""
        return self.usage.retention

    @property
    def dag_suffix(self) -> str:
        """``workers_deployed.khm-tha`` → ``workers_deployed_khm_tha``."""
        return self.id.replace(".", "_").replace("-", "_")


def _odcs_document(document: Any, path: Path):
    """The document as the ODCS pydantic model (``open_data_contract_standard``); ContractError
    naming the fields it refuses."""
    import pydantic
    from open_data_contract_standard.model import OpenDataContractStandard

    if not isinstance(document, dict):
        raise ContractError(f"{path}: not a YAML mapping", hint="a contract is an ODCS v3 document")
    try:
        return OpenDataContractStandard.model_validate(document)
    except pydantic.ValidationError as exc:
        shown = "; ".join(f"{'/'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg'][:200]}"
                          for e in exc.errors()[:5])
        raise ContractError(f"{path}: breaks the ODCS v3 model: {shown}", hint="fix the fields named") from None


def terms_from_document(document: Any, path: Path) -> ContractTerms:
    """The exchange terms of a parsed contract document, checked: id, schema, parties, period
    kind, classification (ContractError naming the file and what is wrong)."""
    odcs = _odcs_document(document, path)
    contract_id = odcs.id
    match = ID_PATTERN.match(contract_id)
    if not match:
        raise ContractError(
            f"{path}: id {contract_id!r} is not '<dataset>.<sender>-<recipient>'",
            hint="use e.g. workers_deployed.khm-tha",
        )
    terms = {item.property: item.value for item in odcs.customProperties or []}
    missing = [t for t in REQUIRED_TERMS if t not in terms]
    if missing:
        raise ContractError(f"{path}: customProperties lack exchange terms {missing}", hint="add them")
    schema = odcs.schema_ or []
    if len(schema) != 1:
        raise ContractError(
            f"{path}: expected exactly one schema object, found {len(schema)}",
            hint="one contract per dataset",
        )
    dataset = schema[0].name
    if dataset != match.group(1):
        raise ContractError(
            f"{path}: schema name {dataset!r} does not match id {contract_id!r}",
            hint="name the schema object after the dataset",
        )
    classification = terms["classification"]
    if classification not in CLASSIFICATIONS:
        raise ContractError(
            f"{path}: classification {classification!r} is not one of {CLASSIFICATIONS}",
            hint="pick children, personal or aggregate",
        )
    if terms["period"] not in PERIODS:
        raise ContractError(
            f"{path}: period {terms['period']!r} is not one of {sorted(PERIODS)}", hint="fix it"
        )
    recipients = terms["recipients"]
    if isinstance(recipients, str) or not isinstance(recipients, list) or not recipients:
        raise ContractError(f"{path}: recipients must be a non-empty list of alpha-3 codes", hint="fix it")
    sender = str(terms["sender"]).upper()
    recipient_codes = tuple(str(r).upper() for r in recipients)
    if (sender.lower(), recipient_codes[0].lower()) != (match.group(2), match.group(3)):
        raise ContractError(
            f"{path}: sender/recipients {sender}->{recipient_codes} do not match id {contract_id!r}",
            hint="the id names sender-recipient",
        )
    disclosure = terms["disclosure"] or {}
    if not isinstance(disclosure, dict):
        raise ContractError(f"{path}: the disclosure term is not a mapping", hint="see docs/disclosure.md")
    return ContractTerms(
        id=contract_id, version=str(odcs.version), name=contract_id if odcs.name is None else odcs.name,
        dataset=dataset, sender=sender,
        recipients=recipient_codes, schedule=str(terms["schedule"]), period=terms["period"],
        classification=classification, revision_policy=str(terms["revisionPolicy"]),
        usage=usage_terms(odcs, terms, path), legal_basis=str(terms["legalBasis"]), disclosure=dict(disclosure))


def contract_terms(contracts_dir: Path) -> list[ContractTerms]:
    """The terms of every contract in ``contracts_dir``, read fast (C YAML loader; no JSON Schema,
    no suite, no hash): what building the DAGs needs. Read once per process while the files are
    unchanged (name, size and modification time), so the second DAG file parsed beside the first
    does not parse every contract again."""
    paths = sorted(Path(contracts_dir).glob(f"*{CONTRACT_SUFFIX}"))
    fingerprint = tuple((str(p), (st := p.stat()).st_mtime_ns, st.st_size) for p in paths)
    return list(_terms_of(fingerprint))


@lru_cache(maxsize=4)
def _terms_of(fingerprint: tuple[tuple[str, int, int], ...]) -> tuple[ContractTerms, ...]:
    found = []
    for name, _, _ in fingerprint:
        path = Path(name)
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506 - safe
        except yaml.YAMLError:
            raise ContractError(f"{path}: malformed YAML", hint="run `gcmx contract lint` on it") from None
        found.append(terms_from_document(document, path))
    return tuple(found)
