"""The largest contract table (workers_deployed, 33,075 cells) under the recipient's attack.

About 1.5 minutes on a loaded 2-core machine, hence its own file and the ``slow`` marker.
Needs the d-agg branch (publication rule) and the contracts' protectionLevels.
"""

from __future__ import annotations

import pytest

from tests.disclosure_attack.test_attacker_protect_contracts import assert_contract_protected

pytestmark = pytest.mark.slow


def test_partner_with_the_contract_cannot_narrow_a_primary_cell_of_the_largest_table():
    assert_contract_protected("workers_deployed.khm-tha")
