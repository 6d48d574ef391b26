"""Per-API-key token bucket (2/7 item 9): 429 with Retry-After past the burst."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from entrypoints.http.app import create_app
from entrypoints.http.rate_limit import TokenBucket
from entrypoints.settings import Settings, load_settings
from tests.unit.conftest import ADMIN_KEY, CLIENT_KEY, World

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def limited(world: World) -> Iterator[TestClient[Any]]:
    settings = world.container.settings().with_(rate_limit_per_s=1.0, rate_limit_burst=3)
    with TestClient(create_app(settings, world.container)) as c:
        yield c


def test_a_bucket_grants_its_burst_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=2, tokens=2.0, updated=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0  # refilled at 2 tokens/s
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(rate_per_s=10.0, burst=2, tokens=0.0, updated=0.0)
    granted = [bucket.take(1000.0) == 0.0 for _ in range(3)]
    assert granted == [True, True, False]


def test_a_key_past_its_burst_gets_429_with_retry_after(limited: TestClient[Any]) -> None:
    statuses = [limited.get("/users/1/balances", headers=CLIENT).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = limited.get("/users/1/balances", headers=CLIENT)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/too-many-requests"
    assert int(refused.headers["retry-after"]) >= 1


def test_a_limited_payment_records_nothing(limited: TestClient[Any], world: World) -> None:
    body = {"user_id": 1, "amount": "10.00", "currency": "USD"}
    answers = [
        limited.post("/deposit", json=body, headers={**CLIENT, "Idempotency-Key": f"k{i}"})
        for i in range(5)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429]
    assert len(world.store.transactions) == 3
    # The refused key was never remembered: once the bucket refills it is a new request.
    assert answers[3].headers.get("idempotent-replayed") is None


def test_keys_have_buckets_of_their_own(limited: TestClient[Any]) -> None:
    for _ in range(3):
        limited.get("/users/1/balances", headers=CLIENT)
    assert limited.get("/users/1/balances", headers=CLIENT).status_code == 429
    assert limited.get("/gateways", headers=ADMIN).status_code == 200


def test_unknown_keys_and_health_are_not_counted(limited: TestClient[Any]) -> None:
    for _ in range(5):
        assert (
            limited.get("/users/1/balances", headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )
        assert limited.get("/health").status_code == 200
    assert limited.get("/users/1/balances", headers=CLIENT).status_code == 200


def test_the_limit_is_on_by_default_and_configurable() -> None:
    assert Settings().rate_limit_per_s == 100.0
    assert Settings().rate_limit_burst == 200
    env = {"PAYMENTS_RATE_LIMIT_PER_S": "5", "PAYMENTS_RATE_LIMIT_BURST": "7"}
    settings = load_settings(env)
    assert (settings.rate_limit_per_s, settings.rate_limit_burst) == (5.0, 7)
