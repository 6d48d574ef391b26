"""Routing documents over HTTP: validation, storage, the priority list kept, rules, audit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.api import ADMIN, attempts, deposit, serve_api

SPLIT: dict[str, Any] = {
    "strategy": "weighted",
    "tiers": [
        [{"gateway_id": "paypal", "weight": 70}, {"gateway_id": "stripe", "weight": 30}],
        [{"gateway_id": "adyen", "weight": 100}],
    ],
    "rules": [
        {
            "when": {"type": "deposit", "currency": "USD", "min_amount": "1000.00"},
            "tiers": [[{"gateway_id": "adyen", "weight": 100}]],
        }
    ],
    "closed_loop": True,
}


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url) as client:
        yield client


def audit_actions(database_url: str, country: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT action FROM audit_log WHERE subject_type = 'country' AND subject_id = %s"
            " ORDER BY id",
            (country,),
        ).fetchall()
    return [r[0] for r in rows]


def test_a_plain_priority_list_reads_as_the_priority_strategy(api: httpx.Client) -> None:
    r = api.get("/countries/US/routing", headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "strategy": "priority",
        "tiers": [
            [{"gateway_id": "paypal", "weight": 100}],
            [{"gateway_id": "stripe", "weight": 100}],
            [{"gateway_id": "adyen", "weight": 100}],
        ],
        "rules": [],
        "closed_loop": False,
    }


def test_a_document_is_stored_returned_audited_and_flattened_into_the_list(
    api: httpx.Client, demo_database_url: str
) -> None:
    r = api.put("/countries/US/routing", json=SPLIT, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert api.get("/countries/US/routing", headers=ADMIN).json() == SPLIT
    listed = api.get("/countries/US/gateways", headers=ADMIN).json()
    assert [e["gateway_id"] for e in listed] == ["paypal", "stripe", "adyen"]
    assert audit_actions(demo_database_url, "US") == ["country.routing_set"]
    with psycopg.connect(demo_database_url) as conn:
        row = conn.execute("SELECT closed_loop FROM countries WHERE code = 'US'").fetchone()
    assert row == (True,)


def test_a_new_priority_list_brings_back_the_priority_strategy(api: httpx.Client) -> None:
    assert api.put("/countries/US/routing", json=SPLIT, headers=ADMIN).status_code == 200
    body = [{"gateway_id": "stripe", "priority": 1}, {"gateway_id": "paypal", "priority": 2}]
    assert api.put("/countries/US/gateways", json=body, headers=ADMIN).status_code == 200
    doc = api.get("/countries/US/routing", headers=ADMIN).json()
    assert doc["strategy"] == "priority"
    assert [t[0]["gateway_id"] for t in doc["tiers"]] == ["stripe", "paypal"]
    assert doc["closed_loop"] is True  # a country setting, not part of the list
    r = deposit(api, 1, "10.00", "USD")
    assert r.json()["gateway"] == "stripe"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"tiers": [[{"gateway_id": "nope", "weight": 1}]]}, "unknown gateway"),
        ({"tiers": [[{"gateway_id": "paypal", "weight": 0}]]}, "weights must be positive"),
        (
            {
                "rules": [
                    {
                        "when": {"min_amount": "10.00", "max_amount": "5.00"},
                        "tiers": [[{"gateway_id": "adyen"}]],
                    }
                ]
            },
            "can never match",
        ),
        (
            {
                "rules": [
                    {"when": {"currency": "USD"}, "tiers": [[{"gateway_id": "adyen"}]]},
                    {
                        "when": {"currency": "USD", "type": "deposit"},
                        "tiers": [[{"gateway_id": "stripe"}]],
                    },
                ]
            },
            "can never match",
        ),
    ],
)
def test_a_document_routing_cannot_follow_is_422_and_changes_nothing(
    api: httpx.Client, demo_database_url: str, change: dict[str, Any], fragment: str
) -> None:
    before = api.get("/countries/US/routing", headers=ADMIN).json()
    r = api.put("/countries/US/routing", json={**SPLIT, **change}, headers=ADMIN)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert fragment in r.json()["detail"]
    assert api.get("/countries/US/routing", headers=ADMIN).json() == before
    assert audit_actions(demo_database_url, "US") == []


def test_a_malformed_document_is_400(api: httpx.Client) -> None:
    r = api.put("/countries/US/routing", json={**SPLIT, "strategy": "random"}, headers=ADMIN)
    assert r.status_code == 400, r.text
    assert api.put("/countries/ZZ/routing", json=SPLIT, headers=ADMIN).status_code == 404


def test_usd_deposits_from_1000_go_to_adyen_first_and_only_those(api: httpx.Client) -> None:
    doc = {
        **SPLIT,
        "strategy": "priority",
        "tiers": [[{"gateway_id": "paypal"}], [{"gateway_id": "stripe"}]],
    }
    assert api.put("/countries/US/routing", json=doc, headers=ADMIN).status_code == 200
    for amount, expected in [
        ("1000.00", "adyen"),
        ("2500.50", "adyen"),
        ("999.99", "paypal"),
        ("10.00", "paypal"),
    ]:
        r = deposit(api, 1, amount, "USD")
        assert r.status_code == 201, r.text
        assert attempts(api, r.json()["transaction_id"])[0] == (expected, "accepted"), amount
