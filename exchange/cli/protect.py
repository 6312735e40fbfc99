"""`gcmx protect`: apply a contract's disclosure rules to a Parquet file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import pyarrow.parquet as pq

from exchange.atomic import atomic_output, write_text_atomic
from exchange.cli.output import counted, emit_json, json_option
from exchange.errors import ConfigError, NotFound


def _check_writable(path: Path, what: str) -> None:
    """Prove a file can be written beside ``path`` before any work (a nameless one, gone at once)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write the {what} {path}: {exc.strerror or exc}",
                          hint=f"choose a {what} path in a writable directory") from None


@click.command("protect")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--contract", "contract_id", required=True,
              help="Contract id whose disclosure rules apply, e.g. returnees.tha-khm.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the protected Parquet file.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the disclosure report (JSON, counts only) here.")
@click.option("--linkage-key-file", type=click.Path(path_type=Path, dir_okay=False,
                                                     exists=True),
              help="Bilateral linkage key (hex), for contracts with linkage: withRecipient "
                   "[default: GCMX_IDENTITY/linkage/{SENDER}-{RECIPIENT}.key].")
@click.option("--identity", type=click.Path(path_type=Path, file_okay=False),
              help="Identity directory holding pseudonym/ and linkage/ "
                   "[default: GCMX_IDENTITY].")
@click.option("--released", "released_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder keeping what was already released, for contracts whose "
                   "pseudonyms link releases [default: GCMX_HOME/outbound/_released].")
@json_option
def protect_command(file: Path, contract_id: str, out: Path, report_path: Path | None,
                    linkage_key_file: Path | None, identity: Path | None,
                    released_dir: Path | None, as_json: bool) -> None:
    """Protect FILE under the contract's disclosure rules and write it to --out.

    The file must hold only what the contract describes (its columns, its codes, at
    least one row, no null or duplicate identifiers); otherwise nothing is written.
    Frequency tables get primary and secondary cell suppression (nulls with SDMX
    OBS_STATUS / CONF_STATUS flags) proven by the exact LP audit, which always runs;
    record-level data gets keyed pseudonyms, k-anonymity with l-diversity, and shuffled
    rows. Prints what was done (with --json the whole disclosure report): counts only,
    never values.
    """
    from exchange.contract.model import load_contract
    from exchange.disclosure.rules import as_rules
    from exchange.disclosure.scope import check_publishable
    from exchange.protocol.naming import OUTBOUND, RELEASED
    from exchange.protocol.protection import protect_for_contract, pseudonym_key, read_dataset
    from exchange.settings import load_settings

    if not file.is_file():
        raise NotFound(f"dataset {file} does not exist", hint="give the Parquet file to protect")
    settings = load_settings()
    contract = load_contract(contract_id, settings.contracts, settings.expectations)
    table = read_dataset(file)
    check_publishable(table, contract)
    rules = as_rules(contract.disclosure)
    key = None
    if rules.method == "records" and rules.pseudonymise:
        key = pseudonym_key(contract, identity or settings.identity_dir,
                            linkage_key_file)
    if rules.method == "records" and rules.links_releases and released_dir is None:
        released_dir = settings.home / OUTBOUND / RELEASED
    _check_writable(out, "output file")
    if report_path is not None:
        _check_writable(report_path, "report file")
    protected, report = protect_for_contract(table, contract, key, released_dir, checked=True)
    document = {"contract": contract.id, **report.to_dict()}
    if report_path is not None:
        write_text_atomic(report_path, json.dumps(document, indent=2) + "\n")
    with atomic_output(out) as stream:
        pq.write_table(protected, stream)
    if as_json:
        emit_json(document)
        return
    click.echo(f"protected {file} under contract {contract.id} ({rules.method}): "
               f"{counted(protected.num_rows, 'row')} written to {out}")
    for name, value in _headline(document).items():
        click.echo(f"  {name}: {value}")
    if report_path is not None:
        click.echo(f"  disclosure report: {report_path}")


def _headline(document: dict) -> dict:
    """The report's top-level counts (numbers and short texts), for the text output."""
    return {k.replace("_", " "): v for k, v in document.items()
            if k != "contract" and isinstance(v, int | float | str) and not isinstance(v, bool)}


COMMANDS: list[click.Command] = [protect_command]
