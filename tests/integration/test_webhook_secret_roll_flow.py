"""Rolling a webhook endpoint's secret end to end: real PostgreSQL, the real
service over HTTP, a real receiver on 127.0.0.1 verifying with Stripe's library;
the key rotation re-encrypts the previous secret too."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import stripe

from adapters.crypto.keyring import Keyring
from adapters.postgres.pool import open_pool
from adapters.postgres.reencrypt import key_usage, reencrypt
from tests.integration.test_webhooks import FAST, completed_deposit, register
from tests.support.api import ADMIN, ENCRYPTION_KEYS, serve_api
from tests.support.webhook_receiver import Received, receiver

NEW_KEY = Keyring.new_key_spec("new")


def roll(api: httpx.Client, endpoint_id: str, body: Any = None) -> httpx.Response:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    return api.post(f"/webhook-endpoints/{endpoint_id}/secret", headers=ADMIN, **kwargs)


def verifies(received: Received, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(
            received.body.decode(), received.headers["payments-signature"], secret, tolerance=300
        )
    except stripe.SignatureVerificationError:
        return False
    return True


def stored_secrets(database_url: str) -> tuple[Any, ...] | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT secret_enc, previous_secret_enc, previous_secret_expires_at"
            " FROM webhook_endpoints"
        ).fetchone()


def test_after_a_roll_deliveries_verify_under_the_old_and_the_new_secret_until_dropped(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url, **FAST) as api, receiver() as platform:
        endpoint = register(api, platform.url, ["transaction.completed"])
        old = endpoint["secret"]
        r = roll(api, endpoint["id"], {"expire_previous_in_hours": 24})
        assert r.status_code == 201, r.text
        new = r.json()["secret"]
        assert new.startswith("whsec_")
        assert new != old
        shown = api.get(f"/webhook-endpoints/{endpoint['id']}", headers=ADMIN).json()
        assert shown["previous_secret_expires_at"] == r.json()["previous_secret_expires_at"]
        assert shown["previous_secret_expires_at"] is not None
        assert "secret" not in shown

        completed_deposit(api)
        (overlap,) = platform.wait_for(1)
        assert overlap.headers["payments-signature"].count("v1=") == 2
        assert verifies(overlap, old)
        assert verifies(overlap, new)
        assert not verifies(overlap, "whsec_someone_else")

        stored = stored_secrets(demo_database_url)
        assert stored is not None
        assert stored[1].startswith("v1.it.")
        assert old not in stored[1]
        assert new not in stored[0]

        r = roll(api, endpoint["id"], {"expire_previous_in_hours": 0})
        assert r.status_code == 201, r.text
        newest = r.json()["secret"]
        assert r.json()["previous_secret_expires_at"] is None
        completed_deposit(api)
        after = platform.wait_for(2)[1]
        assert after.headers["payments-signature"].count("v1=") == 1
        assert verifies(after, newest)
        assert not verifies(after, new)
        assert not verifies(after, old)
        dropped = stored_secrets(demo_database_url)
        assert dropped is not None
        assert dropped[1:] == (None, None)

    with psycopg.connect(demo_database_url) as conn:
        actions = [
            row[0]
            for row in conn.execute(
                "SELECT action FROM audit_log WHERE subject_id = %s ORDER BY id",
                (endpoint["id"],),
            )
        ]
    assert actions == [
        "webhook_endpoint.created",
        "webhook_endpoint.secret_rolled",
        "webhook_endpoint.secret_rolled",
    ]


def test_a_roll_of_an_unknown_endpoint_or_with_a_bad_body_is_a_4xx_and_changes_nothing(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url, **FAST) as api:
        endpoint = register(api, "http://127.0.0.1:9/never")
        before = stored_secrets(demo_database_url)
        missing = "00000000-0000-0000-0000-000000000000"
        assert roll(api, missing).status_code == 404
        assert roll(api, "nope").status_code == 400
        for body in (
            {"expire_previous_in_hours": 169},
            {"expire_previous_in_hours": -1},
            {"expire_previous_in_hours": "24"},
            {"expire_previous_in_hours": 24, "secret": "mine"},
            "24",
        ):
            r = roll(api, endpoint["id"], body)
            assert r.status_code == 400, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert stored_secrets(demo_database_url) == before
        assert before is not None
        assert before[1:] == (None, None)


def test_key_rotation_re_encrypts_the_previous_secret_and_deliveries_still_carry_both(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url, **FAST) as api:
        endpoint = register(api, "http://127.0.0.1:9/never")
        old = endpoint["secret"]
        new = roll(api, endpoint["id"]).json()["secret"]  # no body: 24 hours of overlap

    async def rotate() -> tuple[int, dict[str, int]]:
        pool = await open_pool(demo_database_url, min_size=1, max_size=2)
        try:
            rewritten = await reencrypt(pool, Keyring.parse(f"{NEW_KEY},{ENCRYPTION_KEYS}"))
            return rewritten, await key_usage(pool)
        finally:
            await pool.close()

    rewritten, usage = asyncio.run(rotate())
    assert rewritten >= 2  # the secret and the previous one (plus any demo ciphertexts)
    assert "it" not in usage
    stored = stored_secrets(demo_database_url)
    assert stored is not None
    assert stored[0].startswith("v1.new.")
    assert stored[1].startswith("v1.new.")

    # Only the new key now: both secrets still decrypt and sign.
    with serve_api(demo_database_url, PAYMENTS_ENCRYPTION_KEYS=NEW_KEY, **FAST) as api:
        with receiver() as platform:
            r = api.patch(
                f"/webhook-endpoints/{endpoint['id']}", json={"url": platform.url}, headers=ADMIN
            )
            assert r.status_code == 200, r.text
            completed_deposit(api)
            got = platform.wait_for(1)[0]
        assert verifies(got, old)
        assert verifies(got, new)
