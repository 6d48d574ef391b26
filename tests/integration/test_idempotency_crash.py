"""Fault: the service is SIGKILLed while a request holds its Idempotency-Key.

Before leases, the key stayed "in flight" (409) for its whole 24 hours: the
client could neither learn the outcome nor retry without risking a second
payment. Now the dead request's lease runs out (1 s here) and a retry with
the same key gets the transaction the first request created, or, if it
created none, creates exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from adapters.postgres.idempotency import PostgresIdempotencyStore
from adapters.postgres.pool import open_pool
from application.ports import KeyClaim
from tests.support.api import ADMIN_KEY, CLIENT_KEY, production_env
from tests.support.server import cli_process, free_port

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
BODY = {"user_id": 1, "amount": "30.00", "currency": "USD"}
LEASE_S = 1.0


def keyed(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {CLIENT_KEY}", "Idempotency-Key": key}


class Service:
    """The API (killable, restartable) beside a sandbox process that outlives it."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.tmp_path = tmp_path
        api_port, sandbox_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{api_port}"
        self.sandbox = f"http://127.0.0.1:{sandbox_port}/sandbox"
        self.env = production_env(
            database_url,
            PAYMENTS_PORT=str(api_port),
            PAYMENTS_SERVE_SANDBOX="0",
            PAYMENTS_SANDBOX_URL=self.sandbox,
            PAYMENTS_SANDBOX_CALLBACK_URL=self.api,
            PAYMENTS_GATEWAY_READ_TIMEOUT_S="5",
            PAYMENTS_RECONCILE_AFTER_S="6",
            PAYMENTS_RECONCILE_INTERVAL_S="0.5",
            PAYMENTS_RELAY_POLL_S="0.2",
            PAYMENTS_IDEMPOTENCY_LEASE_S=str(LEASE_S),
        )
        self.runs = 0

    def sandbox_process(self) -> Any:
        port = self.sandbox.rsplit(":", 1)[1].split("/")[0]
        health = f"{self.sandbox}/paypal/health"
        return cli_process(
            ["sandbox", "--port", port], self.env, self.tmp_path / "sandbox.log", health
        )

    def api_process(self) -> Any:
        self.runs += 1
        log = self.tmp_path / f"api{self.runs}.log"
        return cli_process(["serve"], self.env, log, f"{self.api}/health")

    def behave(self, **behaviour: object) -> None:
        url = f"{self.sandbox}/paypal/behaviour"
        httpx.put(url, json=behaviour, headers=ADMIN).raise_for_status()

    def payments_at_the_gateway(self) -> list[dict[str, Any]]:
        ledger = httpx.get(f"{self.sandbox}/paypal/ledger", headers=ADMIN).json()
        return [p for p in ledger if p["amount"] == BODY["amount"]]

    def post_in_background(self, key: str) -> None:
        def send() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                httpx.post(f"{self.api}/deposit", json=BODY, headers=keyed(key), timeout=30)

        threading.Thread(target=send, daemon=True).start()


def query(database_url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql, params).fetchall()


def key_row(database_url: str, key: str) -> tuple[str, str | None] | None:
    rows = query(
        database_url, "SELECT state, transaction_id::text FROM idempotency_keys WHERE key = %s", key
    )
    return (rows[0][0], rows[0][1]) if rows else None


def wait_until(condition: Any, within_s: float, what: str) -> Any:
    deadline = time.monotonic() + within_s
    while not (value := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return value


def test_a_retry_after_a_crash_mid_request_gets_the_transaction_not_409(
    tmp_path: Path, demo_database_url: str
) -> None:
    service = Service(tmp_path, demo_database_url)
    with service.sandbox_process():
        with service.api_process() as api:
            # The gateway takes the payment but its answer hangs (up to the 5 s read timeout).
            service.behave(mode="timeout", final_status="completed")
            service.post_in_background("order-crash-1")
            wait_until(service.payments_at_the_gateway, 10, "the gateway never got the payment")
            time.sleep(LEASE_S * 1.5)  # longer than a lease: the live request renews it
            busy = httpx.post(f"{service.api}/deposit", json=BODY, headers=keyed("order-crash-1"))
            assert busy.status_code == 409
            api.send_signal(signal.SIGKILL)
            api.wait()
        (tx_id,) = [row[0] for row in query(demo_database_url, "SELECT id::text FROM transactions")]
        assert key_row(demo_database_url, "order-crash-1") == ("in_flight", tx_id)
        service.behave(mode="down")  # the reconciler cannot settle it yet
        with service.api_process():
            time.sleep(LEASE_S)  # whatever is left of the dead request's lease
            retry = httpx.post(f"{service.api}/deposit", json=BODY, headers=keyed("order-crash-1"))
            assert retry.status_code == 200, retry.text
            assert retry.headers["idempotent-replayed"] == "true"
            assert (retry.json()["transaction_id"], retry.json()["status"]) == (tx_id, "pending")
            service.behave(mode="ok")  # now it can

            def settled() -> httpx.Response | None:
                r = httpx.post(f"{service.api}/deposit", json=BODY, headers=keyed("order-crash-1"))
                assert r.status_code == 200, r.text
                return r if r.json()["status"] == "completed" else None

            final = wait_until(settled, 30, "the reconciler never settled it")
            again = httpx.post(f"{service.api}/deposit", json=BODY, headers=keyed("order-crash-1"))
            assert again.content == final.content
        assert len(service.payments_at_the_gateway()) == 1
    assert key_row(demo_database_url, "order-crash-1") == ("done", tx_id)
    assert query(demo_database_url, "SELECT count(*) FROM transactions") == [(1,)]


def test_a_crash_before_the_transaction_existed_lets_the_retry_create_exactly_one(
    tmp_path: Path, demo_database_url: str
) -> None:
    service = Service(tmp_path, demo_database_url)
    with service.sandbox_process():
        with service.api_process() as api, psycopg.connect(demo_database_url) as blocker:
            # Routing reads the user first: hold the request there, key claimed, no row yet.
            blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            service.post_in_background("order-crash-2")
            wait_until(
                lambda: key_row(demo_database_url, "order-crash-2"), 10, "the key was never claimed"
            )
            time.sleep(0.3)
            api.send_signal(signal.SIGKILL)
            api.wait()
            blocker.rollback()
        assert query(demo_database_url, "SELECT count(*) FROM transactions") == [(0,)]
        state, reserved_id = key_row(demo_database_url, "order-crash-2") or ("", None)
        assert state == "in_flight"
        with service.api_process():
            time.sleep(LEASE_S)
            retry = httpx.post(f"{service.api}/deposit", json=BODY, headers=keyed("order-crash-2"))
            again = httpx.post(f"{service.api}/deposit", json=BODY, headers=keyed("order-crash-2"))
        assert len(service.payments_at_the_gateway()) == 1
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert retry.json()["transaction_id"] == reserved_id  # the id the key named all along
    assert (again.status_code, again.content) == (201, retry.content)
    assert query(demo_database_url, "SELECT id::text FROM transactions") == [(reserved_id,)]


def test_an_expired_lease_goes_to_exactly_one_of_several_retries(demo_database_url: str) -> None:
    async def run() -> list[str]:
        pool = await open_pool(demo_database_url, max_size=8)
        try:
            store = PostgresIdempotencyStore(pool)
            reserved = str(uuid.uuid4())
            first = await store.claim(
                KeyClaim("s", "k", "f", 3600, owner="dead", transaction_id=reserved, lease_s=0.01)
            )
            assert first.outcome == "new"
            await asyncio.sleep(0.05)
            claims = await asyncio.gather(
                *(
                    store.claim(
                        KeyClaim("s", "k", "f", 3600, f"r{n}", str(uuid.uuid4()), lease_s=60)
                    )
                    for n in range(6)
                )
            )
            assert {c.transaction_id for c in claims if c.outcome == "abandoned"} == {reserved}
            assert not await store.renew("s", "k", "dead", 60)  # the dead owner lost it
            return sorted(c.outcome for c in claims)
        finally:
            await pool.close()

    assert asyncio.run(run()) == ["abandoned"] + ["in_flight"] * 5
