"""Run the real service (API + sandbox) against a test database, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx

from adapters.crypto.keyring import Keyring
from entrypoints.container import Container
from entrypoints.serve import build_app
from entrypoints.settings import Settings, load_settings
from tests.support.server import free_port, running

CLIENT_KEY = "it-client-key"
ADMIN_KEY = "it-admin-key"
CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ENCRYPTION_KEYS = Keyring.new_key_spec("it")
WEBHOOK_SECRETS = {
    "paypal": "whsec_it_paypal",
    "stripe": "whsec_it_stripe",
    "adyen": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
}
# The merchant credential each sandbox gateway demands and our adapters send.
GATEWAY_KEYS = {
    "paypal": "sk_it_paypal_merchant",
    "stripe": "sk_it_stripe_merchant",
    "adyen": "AQE_it_adyen_merchant",
}
GATEWAY_KEY_ENV = {f"PAYMENTS_GATEWAY_KEY_{g.upper()}": k for g, k in GATEWAY_KEYS.items()}
# What a caller of the sandbox's gateway-side routes sends as that merchant.
MERCHANT = {
    "paypal": {"Authorization": f"Bearer {GATEWAY_KEYS['paypal']}"},
    "stripe": {"Authorization": f"Bearer {GATEWAY_KEYS['stripe']}"},
    "adyen": {"X-API-Key": GATEWAY_KEYS["adyen"]},
}


def make_settings(database_url: str, port: int, **env: str) -> Settings:
    return load_settings(
        {
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_PORT": str(port),
            "PAYMENTS_API_KEYS": CLIENT_KEY,
            "PAYMENTS_ADMIN_API_KEYS": ADMIN_KEY,
            "PAYMENTS_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "PAYMENTS_SERVE_SANDBOX": "1",
            "PAYMENTS_GATEWAY_READ_TIMEOUT_S": "1",
            "PAYMENTS_GATEWAY_CONNECT_TIMEOUT_S": "0.5",
            "PAYMENTS_RETRY_BUDGET_S": "0.5",
            "PAYMENTS_HEALTH_INTERVAL_S": "0",
            "PAYMENTS_RETRY_BACKOFF_BASE_S": "0.01",
            "PAYMENTS_RETRY_BACKOFF_CAP_S": "0.05",
            "PAYMENTS_RELAY_POLL_S": "0.2",
            # The app shares this process (and its GIL) with the test driving
            # it, so its event loop's lag measures the test, not the app.
            "PAYMENTS_ADMISSION_MAX_LAG_MS": "0",
            # The suite posts bursts with one key; the per-key limit is tested
            # on its own (tests/unit/test_rate_limit.py).
            "PAYMENTS_RATE_LIMIT_PER_S": "0",
            # No webhook child process per test service (a second interpreter
            # to start); the webhook tests ask for the default ("process").
            "PAYMENTS_WEBHOOK_DELIVERY": "inline",
            **{f"PAYMENTS_WEBHOOK_SECRET_{g.upper()}": v for g, v in WEBHOOK_SECRETS.items()},
            **GATEWAY_KEY_ENV,
            **env,
        }
    )


@contextmanager
def serve_api(database_url: str, **env: str) -> Iterator[httpx.Client]:
    """The service on a free port; yields a client for it (app state via ``.app``)."""
    port = free_port()
    app = build_app(make_settings(database_url, port, **env))
    with running(app, port) as base, httpx.Client(base_url=base, timeout=15) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def container_of(client: httpx.Client) -> Container:
    container: Container = client.app.state["container"]  # type: ignore[attr-defined]
    return container


def deposit(
    api: httpx.Client, user_id: int, amount: str, currency: str, **headers: str
) -> httpx.Response:
    return api.post(
        "/deposit",
        json={"user_id": user_id, "amount": amount, "currency": currency},
        headers={**CLIENT, **headers},
    )


def withdraw(
    api: httpx.Client, user_id: int, amount: str, currency: str, **extra: object
) -> httpx.Response:
    return api.post(
        "/withdrawal",
        json={"user_id": user_id, "amount": amount, "currency": currency, **extra},
        headers=CLIENT,
    )


def behave(api: httpx.Client, gateway_id: str, **behaviour: object) -> None:
    r = api.put(f"/sandbox/{gateway_id}/behaviour", json=behaviour, headers=ADMIN)
    assert r.status_code == 200, r.text


def sandbox_requests(api: httpx.Client, gateway_id: str) -> int:
    count: int = api.get(f"/sandbox/{gateway_id}/behaviour", headers=ADMIN).json()["requests"]
    return count


def attempts(api: httpx.Client, transaction_id: str) -> list[tuple[str, str]]:
    body = api.get(f"/transactions/{transaction_id}", headers=CLIENT).json()
    return [(a["gateway"], a["outcome"]) for a in body["attempts"]]


def settle_directly(database_url: str, transaction_id: str, status: str) -> None:
    """Complete or fail a transaction the way a gateway's final word will.

    Runs in its own event loop and pool: the server's pool belongs to its thread.
    """
    import asyncio

    from adapters.postgres.pool import open_pool
    from adapters.postgres.unit_of_work import unit_of_work_factory
    from adapters.system import SystemClock
    from application.settle import FinalStatus, SettleCommand, SettleTransaction

    async def run() -> None:
        pool = await open_pool(database_url)
        try:
            use_case = SettleTransaction(
                unit_of_work_factory(pool, Keyring.parse(ENCRYPTION_KEYS)), SystemClock()
            )
            await use_case.execute(
                SettleCommand(transaction_id, FinalStatus(status), f"gateway says {status}")
            )
        finally:
            await pool.close()

    asyncio.run(run())


def wait_for_status(
    api: httpx.Client, transaction_id: str, status: str, timeout_s: float = 5.0
) -> dict[str, object]:
    """Poll until the transaction reaches ``status``; returns it."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, object] = api.get(f"/transactions/{transaction_id}", headers=CLIENT).json()
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"still {body['status']} after {timeout_s}s"
        time.sleep(0.05)


def check_invariants(
    database_url: str,
    sandbox_base_url: str | None,
    kafka: tuple[str, str] | None = None,
    since: datetime | None = None,
) -> None:
    """Run the invariant checker (what `payments check` runs); fail loudly if any breaks."""
    import asyncio

    from adapters.gateways.verification.ledger_check import SandboxLedgers
    from adapters.kafka.verification.event_check import KafkaEventStream
    from adapters.postgres.pool import open_pool
    from adapters.postgres.verification.invariants import PostgresInvariants
    from application.verification.check_invariants import CheckInvariants
    from application.verification.report import CheckReport

    async def run() -> CheckReport:
        pool = await open_pool(database_url, min_size=1, max_size=2)
        try:
            ledgers = None
            if sandbox_base_url is not None:
                base = sandbox_base_url.rstrip("/")
                ledgers = SandboxLedgers(
                    [(g, f"{base}/sandbox/{g}") for g in ("paypal", "stripe", "adyen")], ADMIN_KEY
                )
            events = KafkaEventStream(*kafka) if kafka else None
            return await CheckInvariants(
                PostgresInvariants(pool), ledgers, events, since=since
            ).execute()
        finally:
            await pool.close()

    report = asyncio.run(run())
    assert report.ok, "\n".join(f"{v.invariant}: {v.detail}" for v in report.violations)


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `payments` subprocess in production mode on ``database_url``.

    Starts from this process's environment without any PAYMENTS_* variable,
    adds the test secrets and fast gateway timeouts, then ``extra``.
    """
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_API_KEYS=CLIENT_KEY,
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_ENCRYPTION_KEYS=ENCRYPTION_KEYS,
        PAYMENTS_GATEWAY_CONNECT_TIMEOUT_S="0.5",
        PAYMENTS_GATEWAY_READ_TIMEOUT_S="1",
        PAYMENTS_RETRY_BUDGET_S="0.5",
        PAYMENTS_HEALTH_INTERVAL_S="0",
        # These services share a 2-core box with the suite, PostgreSQL and
        # Kafka: their loops lag because the box is busy, not because they
        # are. Shedding on lag is tested on its own (tests/unit/test_admission.py).
        PAYMENTS_ADMISSION_MAX_LAG_MS="0",
        # The suite posts bursts with one key; the per-key limit has its own
        # tests (tests/unit/test_rate_limit.py, tests/integration/test_slow_clients.py).
        PAYMENTS_RATE_LIMIT_PER_S="0",
        **{f"PAYMENTS_WEBHOOK_SECRET_{g.upper()}": v for g, v in WEBHOOK_SECRETS.items()},
        **GATEWAY_KEY_ENV,
    )
    env.update(extra)
    return env
