"""`gcmx protect`: apply a contract's disclosure rules to a Parquet file."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pyarrow.parquet as pq

from exchange.errors import ConfigError, DisclosureError, NotFound


def _linkage_key(contract, key_file: Path | None, identity: Path | None) -> bytes:
    """The bilateral key: from --linkage-key-file, else {identity}/linkage/{A}-{B}.key."""
    from exchange.keys import load_linkage_key

    if key_file is not None:
        text = key_file.read_text(encoding="utf-8").strip()
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ConfigError(f"linkage key file {key_file} does not hold hex",
                              hint="give the file made by gcmx keys linkage") from None
    if len(contract.recipients) != 1:
        raise DisclosureError(
            f"contract {contract.id} has {len(contract.recipients)} recipients; the "
            "linkage key is bilateral", hint="name the key with --linkage-key-file PATH")
    if identity is None:
        from exchange.settings import load_settings

        identity = load_settings().identity_dir
    return load_linkage_key(contract.sender, contract.recipients[0], identity)


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
              help="Bilateral linkage key (hex) for pseudonyms; default: "
                   "{GCMX_IDENTITY}/linkage/{SENDER}-{RECIPIENT}.key.")
@click.option("--identity", type=click.Path(path_type=Path, file_okay=False),
              help="Identity directory holding linkage/ (default: GCMX_IDENTITY).")
def protect_command(file: Path, contract_id: str, out: Path, report_path: Path | None,
                    linkage_key_file: Path | None, identity: Path | None) -> None:
    """Protect FILE under the contract's disclosure rules and write it to --out.

    Frequency tables get primary and secondary cell suppression (nulls with SDMX
    OBS_STATUS / CONF_STATUS flags) proven by the exact LP audit, which always runs;
    record-level data gets keyed pseudonyms and
    k-anonymity. Prints the disclosure report: counts only, never values.
    """
    from exchange.contracts import load_contract
    from exchange.disclosure import protect

    if not file.is_file():
        raise NotFound(f"dataset {file} does not exist", hint="give the Parquet file to protect")
    contract = load_contract(contract_id)
    rules = contract.disclosure
    key = None
    if rules.get("method") == "records" and rules.get("pseudonymise"):
        key = _linkage_key(contract, linkage_key_file, identity)
    table = pq.read_table(file)
    protected, report = protect(table, rules, key)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(protected, out)
    text = json.dumps({"contract": contract.id, **report.to_dict()}, indent=2)
    if report_path is not None:
        report_path.write_text(text + "\n", encoding="utf-8")
    click.echo(text)


COMMANDS: list[click.Command] = [protect_command]
