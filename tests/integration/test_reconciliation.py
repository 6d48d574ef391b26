"""Reconciler, audit trail and the reconciliation report, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import psycopg

from tests.support.api import (
    ADMIN,
    ADMIN_KEY,
    CLIENT,
    WEBHOOK_SECRETS,
    attempts,
    behave,
    deposit,
    production_env,
    serve_api,
    settle_directly,
    wait_for_status,
    withdraw,
)


def balances(api: httpx.Client, user_id: int = 1) -> list[dict[str, str]]:
    body: list[dict[str, str]] = api.get(f"/users/{user_id}/balances", headers=CLIENT).json()
    return body


def funded(api: httpx.Client, database_url: str) -> None:
    behave(api, "paypal", callback_delay_ms=600_000)
    tx = deposit(api, 1, "100.00", "USD").json()
    settle_directly(database_url, tx["transaction_id"], "completed")


def test_a_timed_out_withdrawal_is_resolved_by_the_reconciler(demo_database_url: str) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_RECONCILE_AFTER_S="2",
        PAYMENTS_RECONCILE_INTERVAL_S="0.3",
    ) as api:
        funded(api, demo_database_url)
        # The answer is lost, no callback comes; the PSP settles it after 100 ms.
        behave(api, "paypal", mode="timeout", callback_delay_ms=100, final_status="completed")
        tx = withdraw(api, 1, "60.00", "USD").json()
        assert tx["status"] == "processing"
        assert attempts(api, tx["transaction_id"]) == [("paypal", "ambiguous")]
        behave(api, "paypal", mode="ok")
        done = wait_for_status(api, tx["transaction_id"], "completed", timeout_s=10)
        assert balances(api) == [
            {"currency": "USD", "available": "40.00", "withdrawable": "40.00", "held": "0.00"}
        ]
        actors = [h["actor"] for h in done["history"]]  # type: ignore[union-attr]
        assert actors[-1] == "reconciler"
        assert actors[0].startswith("client:")


def test_a_failed_payout_found_by_the_reconciler_releases_the_hold(
    demo_database_url: str,
) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_RECONCILE_AFTER_S="2",
        PAYMENTS_RECONCILE_INTERVAL_S="0.3",
    ) as api:
        funded(api, demo_database_url)
        behave(api, "paypal", mode="timeout", callback_delay_ms=100, final_status="failed")
        tx = withdraw(api, 1, "60.00", "USD").json()
        behave(api, "paypal", mode="ok")
        wait_for_status(api, tx["transaction_id"], "failed", timeout_s=10)
        assert balances(api) == [
            {"currency": "USD", "available": "100.00", "withdrawable": "100.00", "held": "0.00"}
        ]


def test_money_left_at_a_gateway_we_fell_back_from_is_reported(demo_database_url: str) -> None:
    with serve_api(
        demo_database_url,
        PAYMENTS_RECONCILE_AFTER_S="2",
        PAYMENTS_RECONCILE_INTERVAL_S="0.3",
    ) as api:
        behave(api, "paypal", mode="timeout", callback_delay_ms=50)
        tx = deposit(api, 1, "10.00", "USD").json()
        assert tx["gateway"] == "stripe"
        wait_for_status(api, tx["transaction_id"], "completed")
        deadline = time.monotonic() + 15
        while True:
            issues = api.get("/reconciliation/issues", headers=ADMIN).json()
            if issues:
                break
            assert time.monotonic() < deadline, "the abandoned paypal payment was never reported"
            time.sleep(0.1)
        assert [(i["kind"], i["gateway_id"], i["transaction_id"]) for i in issues] == [
            ("abandoned_attempt_completed", "paypal", tx["transaction_id"])
        ]
        assert api.get("/reconciliation/issues", headers=CLIENT).status_code == 403


def test_flagged_callbacks_appear_in_the_report(demo_database_url: str) -> None:
    from adapters.gateways.signing_json import sign_json

    with serve_api(demo_database_url) as api:
        tx = deposit(api, 1, "10.00", "USD").json()
        wait_for_status(api, tx["transaction_id"], "completed")
        body = json.dumps(
            {
                "event_id": "evt_no",
                "transaction_id": tx["transaction_id"],
                "reference_id": tx["reference_id"],
                "status": "failed",
            }
        ).encode()
        header = sign_json(body, [WEBHOOK_SECRETS["paypal"]], int(time.time()))
        api.post("/callback/paypal", content=body, headers={"X-Signature": header})
        deadline = time.monotonic() + 5
        while not api.get("/reconciliation/issues", headers=ADMIN).json():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (issue,) = api.get("/reconciliation/issues", headers=ADMIN).json()
        assert issue["kind"] == "callback:evt_no"
        assert "gateway says failed" in issue["detail"]


def test_operator_actions_are_audited(demo_database_url: str) -> None:
    with serve_api(demo_database_url) as api:
        api.put("/gateways/stripe/status", json={"status": "down"}, headers=ADMIN)
        api.put(
            "/countries/JP/gateways", json=[{"gateway_id": "stripe", "priority": 1}], headers=ADMIN
        )
        api.put("/users/1", json={"country": "GB"}, headers=ADMIN)
    with psycopg.connect(demo_database_url) as conn:
        rows = conn.execute(
            "SELECT actor, action, subject_type, subject_id, details FROM audit_log ORDER BY id"
        ).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("gateway.status_set", "gateway", "stripe"),
        ("country.priorities_set", "country", "JP"),
        ("user.moved", "user", "1"),
    ]
    assert all(r[0].startswith("admin:") for r in rows)
    assert ADMIN_KEY not in str(rows)
    assert rows[1][4]["before"] == [["paypal", 1], ["stripe", 2]]
    assert rows[2][4] == {"country": "GB", "from": "US"}
    with psycopg.connect(demo_database_url) as conn:
        try:
            conn.execute("DELETE FROM audit_log")
            raise AssertionError("the audit log must refuse deletes")
        except psycopg.errors.RestrictViolation:
            pass


def test_the_reconcile_command_runs_one_pass(demo_database_url: str) -> None:
    with serve_api(demo_database_url, PAYMENTS_RECONCILE_INTERVAL_S="0") as api:
        funded(api, demo_database_url)
        behave(api, "paypal", mode="timeout", callback_delay_ms=50, final_status="completed")
        tx = withdraw(api, 1, "30.00", "USD").json()
        behave(api, "paypal", mode="ok")
        time.sleep(2.1)  # past the reconcile deadline
        env = production_env(
            demo_database_url,
            PAYMENTS_SANDBOX_URL=str(api.base_url).rstrip("/") + "/sandbox",
            PAYMENTS_RECONCILE_AFTER_S="2",
        )
        out = subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", "reconcile"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout)
        assert report["completed"] == 1, out.stdout + out.stderr
        got = api.get(f"/transactions/{tx['transaction_id']}", headers=CLIENT).json()
        assert got["status"] == "completed"
