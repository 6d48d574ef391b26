"""Outgoing webhooks end to end: real PostgreSQL, the real service over HTTP,
and platforms' endpoints as real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import stripe

from tests.support.api import ADMIN, CLIENT, deposit, serve_api, wait_for_status
from tests.support.webhook_receiver import receiver

FAST = {
    "PAYMENTS_WEBHOOK_DELIVERY": "process",  # the default, which tests/support/api.py turns off
    "PAYMENTS_WEBHOOK_ALLOW_PRIVATE": "1",  # the receivers listen on 127.0.0.1
    "PAYMENTS_WEBHOOK_POLL_S": "0.05",
    "PAYMENTS_WEBHOOK_RETRY_BASE_S": "0.05",
    "PAYMENTS_WEBHOOK_RETRY_CAP_S": "0.2",
    "PAYMENTS_WEBHOOK_TIMEOUT_S": "1",
}
LIFECYCLE = ["transaction.created", "transaction.processing", "transaction.completed"]


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    with serve_api(demo_database_url, **FAST) as client:
        yield client


def register(api: httpx.Client, url: str, events: list[str] | None = None) -> dict[str, Any]:
    r = api.post(
        "/webhook-endpoints",
        json={"url": url, "events": events or ["*"], "description": "test platform"},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def deliveries(api: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/webhook-endpoints/{endpoint_id}/deliveries", headers=ADMIN)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def completed_deposit(api: httpx.Client) -> str:
    tx = deposit(api, 1, "10.00", "USD").json()
    wait_for_status(api, tx["transaction_id"], "completed")
    tx_id: str = tx["transaction_id"]
    return tx_id


def verified(received: Any, secret: str) -> None:
    """Stripe's own library accepts our signature over the raw body."""
    stripe.WebhookSignature.verify_header(
        received.body.decode(), received.headers["payments-signature"], secret, tolerance=300
    )


def test_every_lifecycle_event_of_a_deposit_arrives_signed(api: httpx.Client) -> None:
    with receiver() as platform:
        endpoint = register(api, platform.url)
        assert endpoint["status"] == "enabled"
        assert endpoint["events"] == ["*"]
        assert endpoint["secret"].startswith("whsec_")
        tx_id = completed_deposit(api)
        got = platform.wait_for(3)
        assert [r.event["type"] for r in got] == LIFECYCLE
        assert [r.event["version"] for r in got] == [1, 2, 3]
        for r in got:
            assert r.event["transaction_id"] == tx_id
            assert set(r.event) >= {
                "event_id",
                "type",
                "transaction_id",
                "version",
                "occurred_at",
                "data",
            }
            assert r.headers["payments-event-id"] == r.event["event_id"]
            verified(r, endpoint["secret"])
        with pytest.raises(stripe.SignatureVerificationError):
            verified(got[0], "whsec_someone_else")
        # The secret is shown once: never in a read.
        assert "secret" not in api.get(f"/webhook-endpoints/{endpoint['id']}", headers=ADMIN).json()
        rows = deliveries(api, endpoint["id"])
        assert [(d["type"], d["state"], d["status_code"]) for d in rows] == [
            (t, "delivered", 200) for t in reversed(LIFECYCLE)
        ]
        assert all(d["delivered_at"] and d["latency_ms"] is not None for d in rows)


def test_an_endpoint_answering_500_three_times_gets_the_event_on_the_fourth_try(
    api: httpx.Client,
) -> None:
    with receiver(statuses=[500, 500, 500]) as platform:
        endpoint = register(api, platform.url, ["transaction.completed"])
        completed_deposit(api)
        got = platform.wait_for(4)
        time.sleep(0.3)
        assert len(platform.requests) == 4  # delivered: no fifth try
        assert len({r.event["event_id"] for r in got}) == 1
        for r in got:
            verified(r, endpoint["secret"])
        rows = deliveries(api, endpoint["id"])
        assert [(d["attempt"], d["status_code"], d["state"]) for d in rows] == [
            (4, 200, "delivered"),
            (3, 500, "failed"),
            (2, 500, "failed"),
            (1, 500, "failed"),
        ]
        assert all(d["next_retry_at"] for d in rows[1:])
        assert rows[0]["next_retry_at"] is None
        # Backoff: each retry waited at least half its base delay (0.05 s * 2^(n-1)).
        attempted = [d["attempted_at"] for d in reversed(rows)]
        assert attempted == sorted(attempted)


def test_redelivery_sends_the_event_again(api: httpx.Client) -> None:
    with receiver() as platform:
        endpoint = register(api, platform.url, ["transaction.completed"])
        completed_deposit(api)
        first = platform.wait_for(1)[0]
        delivered = deliveries(api, endpoint["id"])[0]
        r = api.post(f"/webhook-deliveries/{delivered['id']}/retry", headers=ADMIN)
        assert r.status_code == 202, r.text
        assert r.json()["attempt"] == 2
        assert r.json()["state"] == "pending"
        again = platform.wait_for(2)[1]
        assert again.event["event_id"] == first.event["event_id"]
        verified(again, endpoint["secret"])
        assert api.post("/webhook-deliveries/999999/retry", headers=ADMIN).status_code == 404
        assert api.post("/webhook-deliveries/abc/retry", headers=ADMIN).status_code == 400


def test_a_filtered_endpoint_gets_only_its_events(api: httpx.Client) -> None:
    with receiver() as only_completed, receiver() as everything:
        register(api, only_completed.url, ["transaction.completed"])
        register(api, everything.url, ["*"])
        completed_deposit(api)
        everything.wait_for(3)
        only_completed.wait_for(1)
        time.sleep(0.3)
        assert [e["type"] for e in only_completed.events()] == ["transaction.completed"]
        assert [e["type"] for e in everything.events()] == LIFECYCLE


def test_an_endpoint_failing_past_the_retry_window_is_disabled(demo_database_url: str) -> None:
    window = {
        **FAST,
        "PAYMENTS_WEBHOOK_RETRY_HOURS": str(1.0 / 3600),  # one second
        # Sent from the workers' loop: a one-second window leaves no room for
        # a delivery process to start (tests/integration/test_webhook_process.py).
        "PAYMENTS_WEBHOOK_DELIVERY": "inline",
    }
    with serve_api(demo_database_url, **window) as api, receiver(default=500) as platform:
        endpoint = register(api, platform.url, ["transaction.completed"])
        completed_deposit(api)
        deadline = time.monotonic() + 10
        while (
            api.get(f"/webhook-endpoints/{endpoint['id']}", headers=ADMIN).json()["status"]
            != "disabled"
        ):
            assert time.monotonic() < deadline, "endpoint still enabled"
            time.sleep(0.1)
        tries = len(platform.requests)
        assert tries >= 3
        time.sleep(0.5)
        assert len(platform.requests) == tries  # a disabled endpoint hears nothing more
        shown = api.get(f"/webhook-endpoints/{endpoint['id']}", headers=ADMIN).json()
        assert shown["failing_since"] is not None
        # Operators see it, and a redelivery is refused until they enable it again.
        row = deliveries(api, endpoint["id"])[0]
        assert api.post(f"/webhook-deliveries/{row['id']}/retry", headers=ADMIN).status_code == 409
        platform.default = 200
        r = api.patch(
            f"/webhook-endpoints/{endpoint['id']}", json={"status": "enabled"}, headers=ADMIN
        )
        assert r.status_code == 200
        assert r.json()["failing_since"] is None
        assert api.post(f"/webhook-deliveries/{row['id']}/retry", headers=ADMIN).status_code == 202
        platform.wait_for(tries + 1)
        assert platform.requests[-1].event["type"] == "transaction.completed"


def test_private_targets_are_refused_in_production_unless_allowed(demo_database_url: str) -> None:
    production = {k: v for k, v in FAST.items() if k != "PAYMENTS_WEBHOOK_ALLOW_PRIVATE"}
    with serve_api(demo_database_url, **production) as api:
        for url in (
            "http://127.0.0.1:9/events",
            "http://localhost/events",
            "http://10.1.2.3/events",
            "http://192.168.0.10/events",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/events",
            "http://[::ffff:127.0.0.1]/events",
        ):
            r = api.post("/webhook-endpoints", json={"url": url, "events": ["*"]}, headers=ADMIN)
            assert r.status_code == 422, (url, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert api.get("/webhook-endpoints", headers=ADMIN).json() == []
        public = api.post(
            "/webhook-endpoints",
            json={"url": "https://93.184.216.34/hook", "events": ["*"]},
            headers=ADMIN,
        )
        assert public.status_code == 201, public.text
        moved = api.patch(
            f"/webhook-endpoints/{public.json()['id']}",
            json={"url": "http://127.0.0.1/x"},
            headers=ADMIN,
        )
        assert moved.status_code == 422
    with serve_api(demo_database_url, **FAST) as api:
        r = api.post(
            "/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/e", "events": ["*"]},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text


def test_bad_endpoint_input_is_a_clear_4xx_and_changes_nothing(api: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"url": "ftp://example.com/x", "events": ["*"]}, 422),
        ({"url": "https://user:pw@example.com/x", "events": ["*"]}, 422),
        ({"url": "https://example.com:99999/x", "events": ["*"]}, 422),
        ({"url": "not a url", "events": ["*"]}, 422),
        ({"url": "https://example.com/x", "events": ["transaction.teleported"]}, 422),
        ({"url": "https://example.com/x", "events": ["*", "transaction.failed"]}, 422),
        ({"url": "https://example.com/x", "events": []}, 400),
        ({"url": "https://example.com/x", "events": "*"}, 400),
        ({"url": "https://example.com/x", "events": ["*"], "secret": "mine"}, 400),
    ]
    for body, status in cases:
        r = api.post("/webhook-endpoints", json=body, headers=ADMIN)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (
        api.post(
            "/webhook-endpoints",
            json={"url": "https://example.com", "events": ["*"]},
            headers=CLIENT,
        ).status_code
        == 403
    )
    assert api.get("/webhook-endpoints", headers=ADMIN).json() == []
    missing = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/webhook-endpoints/{missing}", headers=ADMIN).status_code == 404
    assert api.delete(f"/webhook-endpoints/{missing}", headers=ADMIN).status_code == 404
    assert api.get("/webhook-endpoints/nope", headers=ADMIN).status_code == 400


def test_endpoint_changes_are_audited_and_delete_removes_it(
    api: httpx.Client, demo_database_url: str
) -> None:
    endpoint = register(api, "http://127.0.0.1:9/never")
    r = api.patch(
        f"/webhook-endpoints/{endpoint['id']}",
        json={"events": ["transaction.failed"], "description": "ops"},
        headers=ADMIN,
    )
    assert r.status_code == 200
    assert r.json()["events"] == ["transaction.failed"]
    assert [e["id"] for e in api.get("/webhook-endpoints", headers=ADMIN).json()] == [
        endpoint["id"]
    ]
    assert api.delete(f"/webhook-endpoints/{endpoint['id']}", headers=ADMIN).status_code == 204
    assert api.get("/webhook-endpoints", headers=ADMIN).json() == []
    with psycopg.connect(demo_database_url) as conn:
        actions = [
            r[0]
            for r in conn.execute(
                "SELECT action FROM audit_log WHERE subject_type = 'webhook_endpoint'"
                " AND subject_id = %s ORDER BY id",
                (endpoint["id"],),
            )
        ]
        secret_enc = conn.execute("SELECT count(*) FROM webhook_endpoints").fetchone()
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.deleted",
    ]
    assert secret_enc == (0,)


def test_the_secret_is_stored_encrypted(api: httpx.Client, demo_database_url: str) -> None:
    endpoint = register(api, "http://127.0.0.1:9/never")
    with psycopg.connect(demo_database_url) as conn:
        row = conn.execute("SELECT secret_enc FROM webhook_endpoints").fetchone()
    assert row is not None
    assert row[0].startswith("v1.it.")
    assert endpoint["secret"] not in row[0]
