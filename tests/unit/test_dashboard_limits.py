"""The limits page shows each country's velocity limits as stored."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from application.ports import CountryLimits
from domain.limits import VelocityLimit
from domain.transaction import TransactionType
from tests.unit.conftest import World
from tests.unit.test_dashboard_routing import operator  # noqa: F401 (the fixture)


def test_the_limits_page_shows_the_stored_caps_and_blanks_for_unlimited(
    world: World,
    operator: TestClient[Any],  # noqa: F811
) -> None:
    world.store.country_limits["US"] = CountryLimits(
        "USD",
        {TransactionType.DEPOSIT: VelocityLimit(max_minor=1_000_000, daily_count=5)},
    )
    r = operator.get("/dashboard/limits")
    assert r.status_code == 200, r.text
    row = re.search(r'data-country="US" data-operation="deposit">(.*?)</tr>', r.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells == ["10000.00 USD", "", "5"]
    withdrawal = re.search(
        r'data-country="US" data-operation="withdrawal">(.*?)</tr>', r.text, re.S
    )
    assert withdrawal is not None
    assert re.findall(r'<td class="num">([^<]*)</td>', withdrawal.group(1)) == ["", "", ""]
