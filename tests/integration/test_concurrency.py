"""Many clients racing withdrawals, deposits and (duplicate, contradicting)
callbacks for the same users; the books must still balance."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime

import httpx
import psycopg

from adapters.gateways.signing_json import sign_json
from tests.support.api import (
    CLIENT,
    WEBHOOK_SECRETS,
    behave,
    check_invariants,
    deposit,
    serve_api,
    settle_directly,
)
from tests.support.load import Load


def test_racing_clients_and_callbacks_keep_the_invariants(demo_database_url: str) -> None:
    seen_ids: list[str] = []
    lock = threading.Lock()

    def traffic(client: httpx.Client, n: int) -> httpx.Response:
        rng = random.Random(n)
        user = 1 + n % 2
        currency = "USD" if user == 1 else "GBP"
        roll = rng.random()
        if roll < 0.5:
            r = client.post(
                "/withdrawal",
                json={"user_id": user, "amount": f"{rng.randint(1, 30)}.00", "currency": currency},
                headers=CLIENT,
            )
        elif roll < 0.8:
            r = client.post(
                "/deposit",
                json={"user_id": user, "amount": f"{rng.randint(1, 30)}.00", "currency": currency},
                headers=CLIENT,
            )
        else:
            # A gateway repeating itself (or racing its own callback) about a recent
            # payment: same outcome the sandbox will report, under colliding event ids.
            with lock:
                target = rng.choice(seen_ids) if seen_ids else None
            if target is None:
                return client.get("/health")
            body = json.dumps(
                {
                    "event_id": f"evt_race_{rng.randint(1, 50)}",
                    "transaction_id": target,
                    "status": "completed",
                }
            ).encode()
            gateway = "paypal" if user == 1 else "stripe"
            signature = sign_json(body, [WEBHOOK_SECRETS[gateway]], int(time.time()))
            return client.post(
                f"/callback/{gateway}", content=body, headers={"X-Signature": signature}
            )
        if r.status_code == 201:
            with lock:
                seen_ids.append(r.json()["transaction_id"])
        return r

    # Both racing gateways speak the json family here, whose callbacks this test forges
    # (the demo's stripe speaks stripe_api, raced in test_stripe_flow.py).
    with serve_api(
        demo_database_url,
        PAYMENTS_DB_POOL_MAX="16",
        PAYMENTS_GATEWAYS="paypal:json,stripe:json,adyen:soap",
    ) as api:
        for gid in ("paypal", "stripe"):
            behave(api, gid, callback_delay_ms=600_000)
        for user, currency in ((1, "USD"), (2, "GBP")):
            tx = deposit(api, user, "300.00", currency).json()
            settle_directly(demo_database_url, tx["transaction_id"], "completed")
        after_funding = datetime.now(UTC)
        for gid in ("paypal", "stripe"):
            behave(api, gid, callback_delay_ms=20)
        with Load(str(api.base_url), traffic, clients=8) as load:
            time.sleep(5.0)
        deadline = time.monotonic() + 30
        while True:
            with psycopg.connect(demo_database_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM transactions WHERE status IN ('pending', 'processing')"
                ).fetchone()
            if row == (0,):
                break
            assert time.monotonic() < deadline, "transactions left open"
            time.sleep(0.2)
        time.sleep(0.5)  # let the last callbacks settle in the inbox
        check_invariants(demo_database_url, str(api.base_url), since=after_funding)
    statuses = [s.status for s in load.samples]
    assert set(statuses) <= {200, 201, 402, 422, 404}, set(statuses)
    assert statuses.count(201) > 20
    assert statuses.count(422) > 0  # some withdrawals found the balance already spent
    print(
        f"\n[concurrency] requests={len(statuses)} "
        + " ".join(f"{c}={statuses.count(c)}" for c in sorted(set(statuses)))
    )
