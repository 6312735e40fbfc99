"""``protect()`` on each aggregate contract's synthetic table, attacked by the recipient.

Uses the contract's own disclosure block as the rules (protectionLevels, and the
code-list subtotals if the loader puts them there). Needs the publication rule of the
shared spec: the d-agg branch of exchange/disclosure/ and its contract changes.
workers_deployed (33,075 cells) is left out: one LP per bound is too slow for a test.
"""

from __future__ import annotations

import pytest

from exchange.contracts import load_contract
from exchange.disclosure import protect
from exchange.synthetic import generate
from tests.disclosure_attack.attacker import breaches
from tests.disclosure_attack.publication import publication_problems


@pytest.mark.parametrize("contract_id", [
    "child_birth_registrations.tha-khm",
    "children_on_the_move.khm-tha",
    pytest.param("workers_registered.tha-khm", marks=pytest.mark.slow),  # 5,292 cells, ~1 min
])
def test_partner_with_the_contract_cannot_narrow_a_primary_cell_of_its_synthetic_table(contract_id):
    contract = load_contract(contract_id)
    table = generate(contract, "2025-01", seed=0)
    published, _ = protect(table, contract.disclosure)
    assert publication_problems(table, published, contract.disclosure) == []
    assert [str(b) for b in breaches(table, published, contract.disclosure)] == []
