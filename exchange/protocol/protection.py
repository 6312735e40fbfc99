"""Protect a dataset for its contract on the sender: input checks, the pseudonym key the
contract calls for, and the record of what was already released.

* **Which key.** ``disclosure.linkage`` ``none`` / ``acrossReleases``: the sender's own
  pseudonym key (``{identity}/pseudonym/{PARTY}.key``, 32 random bytes in hex, mode
  0600, made on first use or by ``gcmx keys pseudonym``), so the recipient cannot test
  candidate identifiers (a work-permit number it knows) against the pseudonyms.
  ``withRecipient``: the bilateral linkage key, because the recipient must compute the
  same pseudonyms of its own identifiers (reconciliation). Keep the pseudonym key with
  the identity backups: with ``acrossReleases`` a new key starts new pseudonyms.
* **What was released.** With stable pseudonyms, the published pseudonym, period and
  quasi-identifier columns of each release are kept in
  ``{GCMX_HOME}/outbound/_released/{contract}.parquet`` (the sender's own copy of what
  the recipient already holds), handed to :func:`exchange.disclosure.protect` as
  :class:`~exchange.disclosure.Release` ``earlier`` and updated after protection (rows of
  the same period are replaced, as a revision replaces them). A protection that is
  previewed but never sent is recorded too: k-anonymity is then checked against more
  than was sent, never less.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from exchange.atomic import atomic_output
from exchange.crypto.keys import load_linkage_key, party_code
from exchange.disclosure import Release, protect
from exchange.disclosure.outcome import DisclosureReport
from exchange.disclosure.records import PERIOD_COLUMN, time_columns
from exchange.disclosure.rules import DisclosureRules, as_rules
from exchange.disclosure.scope import check_publishable
from exchange.errors import ConfigError, ContractError
from exchange.protocol.naming import OUTBOUND, RELEASED

PSEUDONYM_KEY_BYTES = 32


def pseudonym_key_path(party: str, identity_dir: Path) -> Path:
    """Where the sender's own pseudonym key lives."""
    return Path(identity_dir) / "pseudonym" / f"{party_code(party)}.key"


def sender_pseudonym_key(party: str, identity_dir: Path, *, create: bool = True) -> bytes:
    """The sender's own pseudonym key; made (0600) when missing and ``create``."""
    path = pseudonym_key_path(party, identity_dir)
    if not path.is_file():
        if not create:
            raise ConfigError(f"pseudonym key {path} does not exist",
                              hint=f"make it with gcmx keys pseudonym --party {party}", path=str(path))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another process: use that one
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(PSEUDONYM_KEY_BYTES) + "\n")
    try:
        key = bytes.fromhex(path.read_text(encoding="utf-8").strip())
    except ValueError:
        raise ConfigError(f"pseudonym key {path} does not hold hex",
                          hint="restore it from the identity backup", path=str(path)) from None
    if len(key) < PSEUDONYM_KEY_BYTES:
        raise ConfigError(f"pseudonym key {path} is shorter than {PSEUDONYM_KEY_BYTES} bytes",
                          hint="restore it from the identity backup", path=str(path))
    return key


def pseudonym_key(contract, identity_dir: Path, linkage_key_file: Path | None = None
                  ) -> bytes | None:
    """The key the contract's ``disclosure.linkage`` calls for (None: nothing to hash)."""
    rules = as_rules(contract.disclosure)
    if rules.method != "records" or not rules.pseudonymise:
        return None
    if rules.linkage != "withRecipient":
        return sender_pseudonym_key(contract.sender, identity_dir)
    if linkage_key_file is not None:
        try:
            return bytes.fromhex(linkage_key_file.read_text(encoding="utf-8").strip())
        except ValueError:
            raise ConfigError(f"linkage key file {linkage_key_file} does not hold hex",
                              hint="give the file made by gcmx keys linkage",
                              path=str(linkage_key_file)) from None
    if len(contract.recipients) != 1:
        raise ConfigError(f"contract {contract.id} has {len(contract.recipients)} recipients; "
                          "the linkage key is bilateral",
                          hint="name the key with --linkage-key-file PATH")
    return load_linkage_key(contract.sender, contract.recipients[0], identity_dir)


def _released_path(folder: Path, contract_id: str) -> Path:
    return Path(folder) / f"{contract_id}.parquet"


def _kept_columns(table: pa.Table, rules: DisclosureRules) -> list[str]:
    wanted = (*rules.pseudonymise, *time_columns(table, rules), *rules.quasi_identifiers)
    return list(dict.fromkeys(c for c in wanted if c in table.column_names))


def earlier_releases(folder: Path | None, contract_id: str) -> pa.Table | None:
    """What was already released under the contract (None: nothing, or not kept)."""
    if folder is None or not _released_path(folder, contract_id).is_file():
        return None
    return pq.read_table(_released_path(folder, contract_id))


def record_release(folder: Path, contract_id: str, protected: pa.Table,
                   rules: DisclosureRules) -> None:
    """Add this release's pseudonym / period / quasi-identifier columns (atomically)."""
    current = protected.select(_kept_columns(protected, rules))
    earlier = earlier_releases(folder, contract_id)
    if earlier is not None and PERIOD_COLUMN in earlier.column_names \
            and PERIOD_COLUMN in current.column_names:
        periods = pc.unique(pc.cast(current.column(PERIOD_COLUMN), pa.string()))
        earlier = earlier.filter(pc.invert(pc.is_in(
            pc.cast(earlier.column(PERIOD_COLUMN), pa.string()), value_set=periods)))
        current = pa.concat_tables([earlier.select(current.column_names), current],
                                   promote_options="permissive")
    path = _released_path(folder, contract_id)
    with atomic_output(path) as out:
        pq.write_table(current, out)


def read_dataset(path: Path) -> pa.Table:
    """The Parquet file to protect; a clear ContractError when it is not Parquet."""
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ContractError(f"dataset {path} is not a readable Parquet file "
                            f"({type(exc).__name__})",
                            hint="export the dataset as Parquet (the contract's format)") from None


def _tables_folder(folder: Path, contract_id: str, table: pa.Table) -> Path | None:
    """``{folder}/{contract}/{period}/``: the frequency tables released for one period
    (None when the table does not hold exactly one period)."""
    if PERIOD_COLUMN not in table.column_names:
        return None
    periods = pc.unique(pc.cast(table.column(PERIOD_COLUMN), pa.string())).to_pylist()
    if len(periods) != 1 or not isinstance(periods[0], str) or not periods[0].replace("-", "").isalnum():
        return None
    return folder / contract_id / periods[0]


def earlier_tables(folder: Path | None, contract_id: str, table: pa.Table, tag: str) -> list[pa.Table]:
    """The frequency tables of the same contract and period released before (but not the
    release ``tag`` itself, so re-running a publish sees the same history)."""
    where = _tables_folder(folder, contract_id, table) if folder is not None else None
    if where is None or not where.is_dir():
        return []
    return [pq.read_table(p) for p in sorted(where.glob("*.parquet")) if p.stem != tag]


def record_table(folder: Path, contract_id: str, protected: pa.Table, tag: str) -> None:
    """Keep the protected frequency table as released (atomically), named by ``tag``."""
    where = _tables_folder(folder, contract_id, protected)
    if where is None:
        return
    with atomic_output(where / f"{tag}.parquet") as out:
        pq.write_table(protected, out)


def protect_for_contract(table: pa.Table, contract, key: bytes | None,
                         released_dir: Path | None, *, checked: bool = False,
                         tag: str = "") -> tuple[pa.Table, DisclosureReport]:
    """Check the input against the contract (unless already ``checked``), protect it, and
    record the release: stable-pseudonym records for contracts that link releases; every
    frequency table (under ``tag``, e.g. the input's hash) so that a revision of the same
    period is protected together with what the partner already holds."""
    if not checked:
        check_publishable(table, contract)
    rules = as_rules(contract.disclosure)
    linked = rules.method == "records" and rules.links_releases and released_dir is not None
    release = Release(contract.id, earlier=earlier_releases(released_dir, contract.id)
                      if linked else None)
    tables = rules.method == "aggregate" and released_dir is not None and bool(tag)
    earlier = earlier_tables(released_dir, contract.id, table, tag) if tables else []
    protected, report = protect(table, contract.disclosure, key, earlier=earlier, release=release)
    if linked:
        record_release(released_dir, contract.id, protected, rules)
    if tables:
        record_table(released_dir, contract.id, protected, tag)
    return protected, report


def protect_on_node(node, source: Path, contract, source_sha256: str) -> tuple[pa.Table, DisclosureReport]:
    """The sender node's protection of ``source`` (outbound's protect_source); its releases
    are tagged by ``source_sha256``, the input's SHA-256 the caller hashed once."""
    key = node.pseudonym_key(contract)
    protected, report = protect_for_contract(read_dataset(source), contract, key,
                                             node.folder(OUTBOUND) / RELEASED,
                                             tag=source_sha256[:16])
    return protected, report
