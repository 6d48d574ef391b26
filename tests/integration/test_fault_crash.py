"""Fault: the service process is SIGKILLed between the gateway call and the
database update. After a restart, the reconciler finds out what the gateway
did and settles the transaction (and the wallet) accordingly."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path

import httpx
import psycopg

from tests.support.api import ADMIN_KEY, CLIENT_KEY, check_invariants, production_env
from tests.support.server import cli_process, free_port

CLIENT = {"Authorization": f"Bearer {CLIENT_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def environment(database_url: str, api_port: int, sandbox_port: int) -> dict[str, str]:
    return production_env(
        database_url,
        PAYMENTS_PORT=str(api_port),
        PAYMENTS_SERVE_SANDBOX="0",
        PAYMENTS_SANDBOX_URL=f"http://127.0.0.1:{sandbox_port}/sandbox",
        PAYMENTS_SANDBOX_CALLBACK_URL=f"http://127.0.0.1:{api_port}",
        PAYMENTS_GATEWAY_READ_TIMEOUT_S="5",
        PAYMENTS_RECONCILE_AFTER_S="6",
        PAYMENTS_RECONCILE_INTERVAL_S="0.5",
        PAYMENTS_RELAY_POLL_S="0.2",
    )


def status_of(database_url: str, tx_id: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT status FROM transactions WHERE id = %s", (tx_id,)).fetchone()
    assert row is not None
    return str(row[0])


def available(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(balance_minor), 0) FROM ledger_accounts"
            " WHERE user_id = 1 AND kind = 'available'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def crash_during_call(
    tmp_path: Path, database_url: str, path: str, final_status: str, before: int
) -> tuple[str, int]:
    api_port, sandbox_port = free_port(), free_port()
    env = environment(database_url, api_port, sandbox_port)
    api_url = f"http://127.0.0.1:{api_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}/sandbox"
    sandbox_health = f"{sandbox_url}/paypal/health"
    with cli_process(
        ["sandbox", "--port", str(sandbox_port)], env, tmp_path / "sandbox.log", sandbox_health
    ):
        with cli_process(["serve"], env, tmp_path / "api.log", f"{api_url}/health") as api:
            if before:
                funding = httpx.post(
                    f"{api_url}/deposit",
                    json={"user_id": 1, "amount": f"{before / 100:.2f}", "currency": "USD"},
                    headers=CLIENT,
                ).json()
                deadline = time.monotonic() + 10
                while status_of(database_url, funding["transaction_id"]) != "completed":
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
            # The gateway takes the payment and settles it, but its answer hangs.
            httpx.put(
                f"{sandbox_url}/paypal/behaviour",
                json={"mode": "timeout", "callback_delay_ms": 100, "final_status": final_status},
                headers=ADMIN,
            ).raise_for_status()
            threading.Thread(
                target=lambda: _swallow(
                    lambda: httpx.post(
                        f"{api_url}{path}",
                        json={"user_id": 1, "amount": "30.00", "currency": "USD"},
                        headers=CLIENT,
                        timeout=30,
                    )
                ),
                daemon=True,
            ).start()
            deadline = time.monotonic() + 10
            while True:
                ledger = httpx.get(f"{sandbox_url}/paypal/ledger", headers=ADMIN).json()
                mine = [p for p in ledger if p["amount"] == "30.00"]
                if mine:
                    break
                assert time.monotonic() < deadline, "the gateway never got the payment"
                time.sleep(0.05)
            api.send_signal(signal.SIGKILL)  # between the gateway call and the update
            api.wait()
        tx_id = mine[0]["transaction_id"]
        assert status_of(database_url, tx_id) == "pending"
        httpx.put(
            f"{sandbox_url}/paypal/behaviour", json={"mode": "ok"}, headers=ADMIN
        ).raise_for_status()
        with cli_process(["serve"], env, tmp_path / "api2.log", f"{api_url}/health"):
            deadline = time.monotonic() + 30
            while status_of(database_url, tx_id) in ("pending", "processing"):
                assert time.monotonic() < deadline, "the reconciler never resolved it"
                time.sleep(0.2)
            check_invariants(database_url, f"http://127.0.0.1:{sandbox_port}")
            return status_of(database_url, tx_id), available(database_url)


def _swallow(call: object) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server dies under it: expected
        call()  # type: ignore[operator]


def test_a_deposit_interrupted_by_a_crash_is_completed_by_the_reconciler(
    tmp_path: Path, demo_database_url: str
) -> None:
    status, balance = crash_during_call(tmp_path, demo_database_url, "/deposit", "completed", 0)
    assert (status, balance) == ("completed", 3000)


def test_a_withdrawal_interrupted_by_a_crash_is_settled_and_the_ledger_matches(
    tmp_path: Path, demo_database_url: str
) -> None:
    status, balance = crash_during_call(tmp_path, demo_database_url, "/withdrawal", "failed", 10000)
    assert (status, balance) == ("failed", 10000)  # the hold was released
