"""Rolling a webhook endpoint's secret: the new one signs at once, the old one
next to it until its overlap ends (through the real wiring, on in-memory fakes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from application.webhooks.roll_secret import RollWebhookSecret
from domain.errors import InvalidInput, NotFound
from domain.webhooks import previous_secret_expiry
from tests.unit.test_webhook_delivery import (
    ADMIN,
    Clock,
    Hooks,
    client,
    endpoint,
    event,
    hooks,
    run_until_idle,
)

__all__ = ["client", "hooks"]  # fixtures shared with test_webhook_delivery
MISSING = "00000000-0000-0000-0000-00000000ffff"


def roll(hooks: Hooks) -> RollWebhookSecret:
    use_case: RollWebhookSecret = hooks.world.container.roll_webhook_secret()
    return use_case


def test_the_overlap_is_zero_to_a_week_and_zero_means_none() -> None:
    now = Clock().now()
    assert previous_secret_expiry(now, 24) == now + timedelta(hours=24)
    assert previous_secret_expiry(now, 168) == now + timedelta(hours=168)
    assert previous_secret_expiry(now, 0) is None
    for hours in (-1, 169):
        with pytest.raises(InvalidInput):
            previous_secret_expiry(now, hours)


async def test_during_the_overlap_both_secrets_sign_then_only_the_new_one(hooks: Hooks) -> None:
    eid = endpoint(hooks, "https://a.example/")
    rolled = await roll(hooks).execute(eid, 24)
    assert rolled.secret.startswith("whsec_")
    assert rolled.secret != "whsec_x"
    assert rolled.endpoint.previous_secret_expires_at == hooks.clock.now() + timedelta(hours=24)
    assert hooks.store.secrets[eid] == rolled.secret
    hooks.store.fan_out(event(1))
    deliver = hooks.deliver()
    await run_until_idle(deliver)
    hooks.clock.advance(24 * 3600)  # the overlap is over
    hooks.store.fan_out(event(2))
    await run_until_idle(deliver)
    assert hooks.sender.signed_with == [(rolled.secret, "whsec_x"), (rolled.secret,)]
    audited = [
        (e.action, e.details)
        for kind, _, e in hooks.world.store.audit
        if kind == "webhook_endpoint"
    ]
    assert audited == [
        (
            "webhook_endpoint.secret_rolled",
            {"previous_secret_expires_at": rolled.endpoint.previous_secret_expires_at.isoformat()},
        )
    ]


async def test_a_roll_with_no_overlap_drops_the_old_secret_at_once(hooks: Hooks) -> None:
    eid = endpoint(hooks, "https://a.example/")
    rolled = await roll(hooks).execute(eid, 0)
    assert rolled.endpoint.previous_secret_expires_at is None
    hooks.store.fan_out(event(1))
    await run_until_idle(hooks.deliver())
    assert hooks.sender.signed_with == [(rolled.secret,)]


async def test_a_second_roll_keeps_only_the_secret_it_replaced(hooks: Hooks) -> None:
    eid = endpoint(hooks, "https://a.example/")
    first = await roll(hooks).execute(eid, 24)
    second = await roll(hooks).execute(eid, 24)
    hooks.store.fan_out(event(1))
    await run_until_idle(hooks.deliver())
    assert hooks.sender.signed_with == [(second.secret, first.secret)]


async def test_an_unknown_endpoint_or_a_bad_overlap_changes_nothing(hooks: Hooks) -> None:
    eid = endpoint(hooks, "https://a.example/")
    with pytest.raises(NotFound):
        await roll(hooks).execute(MISSING, 24)
    with pytest.raises(InvalidInput):
        await roll(hooks).execute(eid, 169)
    assert hooks.store.secrets[eid] == "whsec_x"
    assert hooks.store.previous == {}
    assert [kind for kind, _, _ in hooks.world.store.audit if kind == "webhook_endpoint"] == []


def test_the_api_rolls_shows_the_new_secret_once_and_refuses_bad_bodies(
    client: TestClient[Any], hooks: Hooks
) -> None:
    eid = endpoint(hooks, "https://a.example/")
    path = f"/webhook-endpoints/{eid}/secret"
    bad: list[tuple[Any, int]] = [
        ({"expire_previous_in_hours": 169}, 400),
        ({"expire_previous_in_hours": -1}, 400),
        ({"expire_previous_in_hours": "24"}, 400),
        ({"expire_previous_in_hours": 1.5}, 400),
        ({"expire_previous_in_hours": True}, 400),
        ({"expire_after": 24}, 400),
        ([24], 400),
    ]
    for body, status in bad:
        r = client.post(path, json=body, headers=ADMIN)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    malformed = {**ADMIN, "Content-Type": "application/json"}
    assert client.post(path, content=b"{", headers=malformed).status_code == 400
    assert client.post(f"/webhook-endpoints/{MISSING}/secret", headers=ADMIN).status_code == 404
    assert hooks.store.secrets[eid] == "whsec_x"
    rolled = client.post(path, headers=ADMIN)  # no body: the default overlap of 24 hours
    assert rolled.status_code == 201, rolled.text
    shown = rolled.json()
    assert shown["id"] == eid
    assert shown["secret"] == hooks.store.secrets[eid]
    expires = (hooks.clock.now() + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert shown["previous_secret_expires_at"] == expires
    read = client.get(f"/webhook-endpoints/{eid}", headers=ADMIN).json()
    assert read["previous_secret_expires_at"] == expires
    assert "secret" not in read
    now = client.post(path, json={"expire_previous_in_hours": 0}, headers=ADMIN).json()
    assert now["previous_secret_expires_at"] is None
    assert hooks.store.previous == {}
