"""``protect()`` on each aggregate contract's synthetic table, attacked by the recipient.

Uses the contract's own disclosure block as the rules. Needs the publication rule of the
shared spec: the d-agg branch of exchange/disclosure/ and the contracts' protectionLevels.
workers_deployed (33,075 cells, ~1.5 min) is in test_attacker_protect_contracts_large.py.
"""

from __future__ import annotations

import pytest

from exchange.contract.model import load_contract
from exchange.devkit.synthetic import generate
from exchange.disclosure import protect
from tests.disclosure_attack.attacker import breaches
from tests.disclosure_attack.publication import publication_problems


def assert_contract_protected(contract_id: str) -> None:
    """Protect the contract's synthetic table; no flag fault and no narrowed primary cell."""
    contract = load_contract(contract_id)
    table = generate(contract, "2025-01", seed=0)
    published, _ = protect(table, contract.disclosure)
    assert publication_problems(table, published, contract.disclosure) == []
    assert [str(b) for b in breaches(table, published, contract.disclosure)] == []


@pytest.mark.parametrize("contract_id", ["child_birth_registrations.tha-khm",
                                         "children_on_the_move.khm-tha",
                                         "workers_registered.tha-khm"])
def test_partner_with_the_contract_cannot_narrow_a_primary_cell_of_its_synthetic_table(contract_id):
    assert_contract_protected(contract_id)
