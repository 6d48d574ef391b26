"""Dashboard: edit a country's routing as a draft, see its replay, then save it."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from domain.routing_draw import uniform
from tests.support.api import ADMIN, ADMIN_KEY, deposit, serve_api

COOKIE = "payments_dashboard"
SPLIT = {
    "strategy": "weighted",
    "tiers": [[{"gateway_id": "paypal", "weight": 70}, {"gateway_id": "stripe", "weight": 30}]],
}
DRAFT = {
    "strategy": "weighted",
    "tiers": [[{"gateway_id": "paypal", "weight": 30}, {"gateway_id": "stripe", "weight": 70}]],
}


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url) as client:
        yield client


@pytest.fixture
def browser(api: httpx.Client) -> Iterator[httpx.Client]:
    r = api.post("/dashboard/login", data={"api_key": ADMIN_KEY})
    assert r.status_code == 303, r.text
    cookies = {COOKIE: r.cookies[COOKIE]}
    with httpx.Client(base_url=api.base_url, cookies=cookies, timeout=30) as client:
        yield client


def csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_a_draft_is_replayed_on_the_last_7_days_then_saved(
    api: httpx.Client, browser: httpx.Client
) -> None:
    assert api.put("/countries/US/routing", json=SPLIT, headers=ADMIN).status_code == 200
    ids = [deposit(api, 1, "10.00", "USD").json()["transaction_id"] for _ in range(30)]

    page = browser.get("/dashboard/routing/US/draft")
    assert page.status_code == 200, page.text
    shown = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S)
    assert shown
    assert json.loads(html.unescape(shown.group(1)))["tiers"] == SPLIT["tiers"]

    token = csrf(page)
    form = {"csrf_token": token, "draft": json.dumps(DRAFT), "action": "replay"}
    replayed = browser.post("/dashboard/routing/US/draft", data=form)
    assert replayed.status_code == 200, replayed.text
    flips = sum((uniform(tx, "tier0:0") < 0.7) != (uniform(tx, "tier0:0") < 0.3) for tx in ids)
    assert f"{flips} of 30 payments change gateway" in replayed.text
    # Replaying saved nothing.
    assert api.get("/countries/US/routing", headers=ADMIN).json()["tiers"] == SPLIT["tiers"]

    saved = browser.post(
        "/dashboard/routing/US/draft", data={**form, "action": "save"}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    assert api.get("/countries/US/routing", headers=ADMIN).json()["tiers"] == DRAFT["tiers"]


def test_a_draft_routing_cannot_follow_is_shown_with_the_reason_and_not_saved(
    api: httpx.Client, browser: httpx.Client
) -> None:
    page = browser.get("/dashboard/routing/US/draft")
    bad = {"strategy": "weighted", "tiers": [[{"gateway_id": "paypal", "weight": 0}]]}
    form = {"csrf_token": csrf(page), "draft": json.dumps(bad), "action": "save"}
    r = browser.post("/dashboard/routing/US/draft", data=form)
    assert r.status_code == 400
    assert "weights must be positive" in r.text
    assert api.get("/countries/US/routing", headers=ADMIN).json()["strategy"] == "priority"
    r = browser.post("/dashboard/routing/US/draft", data={**form, "draft": "{not json"})
    assert r.status_code == 400
    assert "not a routing document" in r.text
