"""`gcmx contract lint|check|diff|sign|status` and `gcmx validate`.

Exit codes (exchange/cli/output.py): 0 all good; 1 a check failed (failed expectations,
lint findings, breaking changes, a contract signature that does not verify); 2 an error
(bad file, unknown contract, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from exchange.atomic import write_text_atomic
from exchange.cli.output import counted, emit_json, finish, json_option
from exchange.contract.agreement import parties
from exchange.errors import ContractError

CONTRACTS_DIR = click.option(
    "--contracts-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of *.odcs.yaml contracts [default: GCMX_CONTRACTS, the repo's contracts/].",
)


def _folders(contracts_dir: Path | None) -> tuple[Path, Path]:
    """(contracts, expectations): ``--contracts-dir`` with ``expectations/`` beside it, else the
    settings' ``GCMX_CONTRACTS`` and ``GCMX_EXPECTATIONS``."""
    from exchange.contract.model import expectations_beside
    from exchange.settings import load_settings

    if contracts_dir:
        return contracts_dir, expectations_beside(contracts_dir)
    settings = load_settings()
    return settings.contracts, settings.expectations


def _agreements(agreements_dir: Path | None) -> Path:
    from exchange.protocol.naming import AGREEMENTS
    from exchange.settings import load_settings

    return agreements_dir or load_settings().home / AGREEMENTS


@click.group("contract")
def contract_group() -> None:
    """Check, compare and sign the agreed data contracts (ODCS v3 + GX suites)."""


@contract_group.command("lint")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@CONTRACTS_DIR
def lint(files: tuple[Path, ...], contracts_dir: Path | None) -> None:
    """Check contracts against the ODCS v3 schema, the party registry and the code lists.

    Without FILES, lints every contract in the contracts directory. Exits 1 on findings.
    """
    from exchange.contract.lint import lint_all, lint_file, load_registry

    directory, _ = _folders(contracts_dir)
    if files:
        registry = load_registry(directory)
        results = {path: lint_file(path, registry) for path in files}
    else:
        results = lint_all(directory)
    for path, findings in results.items():
        click.echo(f"{'ok  ' if not findings else 'FAIL'} {path}")
        for finding in findings:
            click.echo(f"     - {finding}")
    finish(any(results.values()))


@contract_group.command("check")
@click.argument("contract_ids", nargs=-1)
@CONTRACTS_DIR
def check(contract_ids: tuple[str, ...], contracts_dir: Path | None) -> None:
    """Prove each contract and its expectation suite agree (all contracts without IDS).

    Every column must have its exists, type, nullability and code-list/range
    expectations; no expectation may name a column the contract lacks. Aggregate
    disclosure parameters must be ones protection can meet (protectionLevels, not the
    retired protectionInterval). Exits 1 on drift or bad parameters.
    """
    from exchange.contract.lint import aggregate_rule_problems
    from exchange.contract.model import CONTRACT_SUFFIX, load_contract
    from exchange.contract.suite import check_suite

    directory, expectations = _folders(contracts_dir)
    ids = contract_ids or sorted(
        p.name.removesuffix(CONTRACT_SUFFIX) for p in directory.glob(f"*{CONTRACT_SUFFIX}")
    )
    for unknown in [i for i in ids if not (directory / f"{i}{CONTRACT_SUFFIX}").is_file()]:
        load_contract(unknown, directory, expectations)  # an unknown id is a usage error: exit 2
    failed = 0
    for contract_id in ids:
        try:
            contract = load_contract(contract_id, directory, expectations)
            check_suite(contract)
        except ContractError as exc:
            failed += 1
            click.echo(f"FAIL {contract_id}: {exc.message}")
            continue
        problems = (aggregate_rule_problems(contract.disclosure)
                    if contract.disclosure.get("method") == "aggregate" else [])
        if problems:
            failed += 1
            click.echo(f"FAIL {contract_id}: " + "; ".join(problems))
        else:
            click.echo(f"ok   {contract_id} v{contract.version} hash {contract.hash}")
    finish(failed > 0)


@contract_group.command("diff")
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--old-suite",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Suite JSON of OLD, to compare hand-written expectations too.",
)
@click.option(
    "--new-suite", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Suite JSON of NEW."
)
def diff(old: Path, new: Path, old_suite: Path | None, new_suite: Path | None) -> None:
    """Classify every change from contract file OLD to NEW as breaking or not.

    Breaking: column removed/renamed, type changed, nullability tightened, code list
    or period changed, ... Exits 1 when any change is breaking, 0 otherwise.
    """
    from exchange.contract.diff import diff_contracts
    from exchange.contract.model import odcs_errors, read_suite, read_yaml

    documents = []
    for path in (old, new):
        document = read_yaml(path)
        problems = odcs_errors(document) if isinstance(document, dict) else ["not a YAML mapping"]
        if problems:
            raise ContractError(f"{path}: breaks the ODCS v3 schema: {problems[0]}", hint="lint it first")
        documents.append(document)
    suites = [read_suite(s, p) if s else None for s, p in ((old_suite, old), (new_suite, new))]
    changes = diff_contracts(documents[0], documents[1], *suites)
    for change in changes:
        click.echo(str(change))
    breaking = sum(c.breaking for c in changes)
    click.echo(f"{counted(len(changes), 'change')}, {breaking} breaking")
    finish(breaking > 0)


def _keyring(parties: tuple[str, ...]) -> dict:
    from exchange.crypto.keys import find_signing_public_key
    from exchange.settings import load_settings

    settings = load_settings()
    found = {p: find_signing_public_key(p, (settings.keyring_dir, settings.identity_dir)) for p in parties}
    return {party: key for party, key in found.items() if key is not None}


@contract_group.command("sign")
@click.argument("contract_id")
@click.option("--party", help="Signing party (alpha-3); default GCMX_PARTY.")
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="minisign secret key [default: GCMX_IDENTITY/PARTY.minisign.key].",
)
@click.option(
    "--agreements-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where signatures go [default: GCMX_HOME/agreements].",
)
@CONTRACTS_DIR
def sign(
    contract_id: str,
    party: str | None,
    key_file: Path | None,
    agreements_dir: Path | None,
    contracts_dir: Path | None,
) -> None:
    """Sign the hash of a contract and its suite as PARTY (agreeing to it).

    Writes AGREEMENTS/<id>@<version>.<PARTY>.minisig. The contract is in force once
    the sender and every recipient have signed the same hash.
    """
    from exchange.contract.agreement import sign_contract
    from exchange.contract.model import load_contract
    from exchange.crypto.minisign import SecretKey
    from exchange.settings import load_settings

    settings = load_settings()
    party = (party or settings.require_party()).upper()
    contract = load_contract(contract_id, *_folders(contracts_dir))
    secret = SecretKey.from_file(key_file or settings.identity_dir / f"{party}.minisign.key")
    path = sign_contract(contract, party, secret, _agreements(agreements_dir))
    click.echo(f"{party} signed {contract.id} v{contract.version} hash {contract.hash}: {path}")


@contract_group.command("status")
@click.argument("contract_ids", nargs=-1)
@click.option(
    "--agreements-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where signatures are [default: GCMX_HOME/agreements].",
)
@CONTRACTS_DIR
@json_option
def status(contract_ids: tuple[str, ...], agreements_dir: Path | None, contracts_dir: Path | None,
           as_json: bool) -> None:
    """Show whether each contract is in force (every party's signature verifies).

    Public keys come from GCMX_KEYRING (PARTY.minisign.pub). A contract not yet signed by
    everyone is reported as not in force (exit 0); exit 1 only when a signature that is
    there does not verify (a check failed).
    """
    from exchange.contract.agreement import party_problems, signature_path
    from exchange.contract.model import all_contracts, load_contract

    folders = _folders(contracts_dir)
    contracts = [load_contract(i, *folders) for i in contract_ids] or all_contracts(*folders)
    agreements = _agreements(agreements_dir)
    rows = []
    for contract in contracts:
        keyring = _keyring(parties(contract))
        problems = party_problems(contract, agreements, keyring)
        broken = sorted(p for p in problems if p in keyring and signature_path(contract, p, agreements).is_file())
        state = "in force" if not problems else "signature invalid" if broken else "not in force"
        rows.append({"contract": contract.id, "version": contract.version, "hash": contract.hash,
                     "state": state, "problems": [problems[p] for p in sorted(problems)]})
    failed = any(r["state"] == "signature invalid" for r in rows)
    if as_json:
        emit_json({"ok": not failed, "contracts": rows})
    for row in [] if as_json else rows:
        reasons = f": {'; '.join(row['problems'])}" if row["problems"] else ""
        click.echo(f"{row['state']:17} {row['contract']} v{row['version']}{reasons}")
    finish(failed)


@click.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--contract", "contract_id", required=True, help="Contract id, e.g. workers_deployed.khm-tha.")
@click.option(
    "--raw",
    is_flag=True,
    help="FILE is the sender's input before protection: the columns protection adds "
    "(addedByProtection, e.g. OBS_STATUS, CONF_STATUS) may be absent. Without it FILE is "
    "checked as exchanged (published or received) and must carry every contract column.",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the full JSON validation report here.",
)
@CONTRACTS_DIR
@json_option
def validate(file: Path, contract_id: str, raw: bool, report: Path | None, contracts_dir: Path | None,
             as_json: bool) -> None:
    """Check a Parquet FILE against its contract's expectation suite (Great Expectations).

    By default FILE is checked in its exchanged form, as published and as the recipient
    receives it: every column of the contract must be present. Pass --raw to check the
    sender's input before `gcmx protect` / publish (what the outbound validation does).
    Patterns are evaluated with their ODCS (ECMA-262) meaning. Says in sentences what
    broke the contract (missing or extra columns, values outside a set or range, empty
    or repeated values) and on how many rows, and names a contract the file's columns
    match better; never prints record values. Exits 1 when the data breaks the contract.
    """
    from exchange.contract.model import load_contract
    from exchange.contract.validation import EXCHANGED, RAW
    from exchange.contract.validation import validate as run

    folders = _folders(contracts_dir)
    contract = load_contract(contract_id, *folders)
    result = run(file, contract, form=RAW if raw else EXCHANGED)
    if report:
        write_text_atomic(report, json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    problems = result.in_words()
    better = None if result.success else better_contract(file, contract, folders)
    if as_json:
        emit_json({"ok": result.success, "problems": problems, "better_contract": better,
                   "report": result.to_dict()})
        finish(not result.success)
    verdict = "meets the contract" if result.success else "breaks the contract:"
    click.echo(f"{file}: {counted(result.row_count, 'row')}, {result.form} form, contract {contract.id} "
               f"v{contract.version}, {counted(len(result.outcomes), 'expectation')}; {verdict}")
    for problem in problems:
        click.echo(f"  - {problem}")
    if better:
        click.echo(f"  the file's columns match contract {better} better; was it meant for that one?")
    finish(not result.success)


def better_contract(file: Path, contract, folders: tuple[Path, Path]) -> str | None:
    """The id of a contract whose columns ``file``'s columns match better than ``contract``'s."""
    import pyarrow.parquet as pq

    from exchange.contract.model import all_contracts
    from exchange.contract.outcome_words import closest_contract

    try:
        columns = pq.read_schema(file).names
        found = closest_contract(columns, contract, all_contracts(*folders))
    except (OSError, ValueError, ContractError):
        return None
    return found.id if found else None


COMMANDS: list[click.Command] = [contract_group, validate]
