"""The routing page shows the order the application's routing rule gives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.memory.session_revocations import MemorySessionRevocations
from tests.unit.conftest import ADMIN_KEY, World
from tests.unit.test_dashboard_login import build_app


@pytest.fixture
def operator(world: World) -> Iterator[TestClient[Any]]:
    with TestClient(build_app(world, MemorySessionRevocations())) as c:
        r = c.post("/dashboard/login", data={"api_key": ADMIN_KEY}, follow_redirects=False)
        assert r.status_code == 303, r.text
        yield c


def next_tries(html: str, country: str) -> list[str]:
    route = re.search(rf'data-testid="effective-{country}">(.*?)</p>', html, re.S)
    assert route is not None
    return re.findall(r'<span class="hop[^"]*">([a-z]+)</span>', route.group(1))


def test_an_unhealthy_gateway_is_shown_at_the_back(world: World, operator: TestClient[Any]) -> None:
    world.container.monitors().get("stripe").set_health("unhealthy")
    r = operator.get("/dashboard/routing")
    assert r.status_code == 200, r.text
    assert next_tries(r.text, "GB") == ["paypal", "adyen", "stripe"]
    assert '<span class="hop degraded">stripe</span>' in r.text
    assert "unhealthy · breaker closed" in r.text


def test_a_switched_off_gateway_is_not_tried(world: World, operator: TestClient[Any]) -> None:
    world.store.gateways["paypal"] = replace(world.store.gateways["paypal"], admin_status="down")
    r = operator.get("/dashboard/routing")
    assert next_tries(r.text, "US") == ["stripe", "adyen"]
