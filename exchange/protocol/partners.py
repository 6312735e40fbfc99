"""Who this party's partners are: the one rule.

A partner is another party of a contract *in force* that names this party: the sender and every
recipient signed the contract's current hash and each signature verifies with the keyring
(:mod:`exchange.contract.agreement`). A key in the keyring or a lone agreement file makes nobody
a partner. Each partner has a bucket from this party (exchanges, receipts, audit checkpoints),
so :func:`checkpoint_buckets` is where ``gcmx audit checkpoint`` and the Airflow DAG publish.

(The DAG file, while Airflow parses it, builds DAGs only for contracts whose agreement files and
keys are all present, without verifying signatures (too slow there); sending and receiving
check the contract in force, signatures included.)
"""

from __future__ import annotations

from exchange.contract.agreement import in_force, parties
from exchange.contract.model import Contract, all_contracts
from exchange.errors import ConfigError
from exchange.protocol.naming import bucket_name
from exchange.protocol.node import Node


def _in_force_here(node: Node, contract: Contract) -> bool:
    try:
        public_keys = {p: node.public_keys(p).minisign for p in parties(contract)}
    except ConfigError:  # a party's key is not in the keyring: not in force for this node
        return False
    return in_force(contract, node.agreements_dir, public_keys)


def partners(node: Node) -> list[str]:
    """The other parties of every contract in force that names ``node.party``, sorted."""
    found: set[str] = set()
    for contract in all_contracts(node.settings.contracts, node.settings.expectations):
        if node.party in parties(contract) and _in_force_here(node, contract):
            found.update(parties(contract))
    return sorted(found - {node.party})


def checkpoint_buckets(node: Node, only: list[str] | None = None) -> list[str]:
    """This party's bucket towards each partner (or towards each of ``only``, which must all be
    partners: a ConfigError names any other before anything is written)."""
    known = partners(node)
    chosen = known if not only else sorted({p.upper() for p in only})
    strangers = [p for p in chosen if p not in known]
    if strangers:
        raise ConfigError(f"{', '.join(strangers)} is not a partner of {node.party}: no contract in force "
                          f"with it, so {node.party} has no bucket towards it",
                          hint=f"partners now: {', '.join(known) or 'none'}; a contract is in force once "
                               "every party has signed it (`gcmx contract status`)")
    return [bucket_name(node.party, p) for p in chosen]
