"""Issue item 1, "forged settlement through the sandbox", replayed against the real stack.

The attack: with no credential, ``POST /sandbox/paypal/payments`` naming
another customer's transaction and 0.01 was answered 201, and the signed
callback the sandbox then sent completed that customer's 500.00 deposit.
A sandbox gateway now takes gateway-side calls only with its merchant
credential (``PAYMENTS_GATEWAY_KEY_<ID>``), like a PSP's secret key: every
forged call below gets 401, nothing reaches the sandbox's ledger or our
callback inbox, the victim's deposit stays exactly as it was, and
``payments check`` still finds every invariant holding.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import psycopg

from tests.support.api import (
    ADMIN,
    ADMIN_KEY,
    CLIENT,
    GATEWAY_KEYS,
    behave,
    deposit,
    serve_api,
)

ADYEN_NS = "http://payment.services.adyen.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# Longer than a forged payment's callback would take to arrive and be applied.
CALLBACK_WINDOW_S = 1.5

# Everything an attacker might present instead of paypal's merchant key.
NOT_PAYPALS_KEY: dict[str, dict[str, str]] = {
    "none": {},
    "wrong key": {"Authorization": "Bearer sk_guessed"},
    "empty bearer": {"Authorization": "Bearer"},
    "client API key": CLIENT,
    "admin API key": ADMIN,
    "another gateway's key": {"Authorization": f"Bearer {GATEWAY_KEYS['stripe']}"},
    "right key, wrong scheme": {"Authorization": f"Basic {GATEWAY_KEYS['paypal']}"},
}
NOT_ADYENS_KEY: dict[str, dict[str, str]] = {
    "none": {},
    "wrong key": {"X-API-Key": "AQE_guessed"},
    "another gateway's key": {"X-API-Key": GATEWAY_KEYS["paypal"]},
    "admin API key as bearer": ADMIN,
}


def authorise(reference: str, transaction_id: str, minor: int, currency: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><authorise xmlns="{ADYEN_NS}">'
        f"<paymentRequest><amount><currency>{currency}</currency><value>{minor}</value></amount>"
        f"<merchantAccount>PaymentsPlatform</merchantAccount><reference>{reference}</reference>"
        "<shopperReference>1</shopperReference><additionalData><entry><key>transactionId</key>"
        f"<value>{transaction_id}</value></entry></additionalData></paymentRequest></authorise>"
        "</soap:Body></soap:Envelope>"
    ).encode()


def status_inquiry(reference: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><getPaymentStatus xmlns="{ADYEN_NS}">'
        f"<statusRequest><reference>{reference}</reference></statusRequest></getPaymentStatus>"
        "</soap:Body></soap:Envelope>"
    ).encode()


def callbacks_received(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM callback_inbox").fetchone()
    assert row is not None
    count: int = row[0]
    return count


def payments_check(database_url: str, api: httpx.Client) -> subprocess.CompletedProcess[str]:
    """``payments check`` as an operator runs it, against this database and sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMENTS_")}
    env.update(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_ADMIN_API_KEYS=ADMIN_KEY,
        PAYMENTS_SANDBOX_URL=f"{str(api.base_url).rstrip('/')}/sandbox",
    )
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def snapshot(api: httpx.Client, transaction_id: str) -> dict[str, Any]:
    tx: dict[str, Any] = api.get(f"/transactions/{transaction_id}", headers=CLIENT).json()
    return {
        "transaction": tx,
        "balances": api.get("/users/1/balances", headers=CLIENT).json(),
        "paypal": api.get("/sandbox/paypal/ledger", headers=ADMIN).json(),
        "adyen": api.get("/sandbox/adyen/ledger", headers=ADMIN).json(),
    }


def test_a_forged_settlement_without_the_merchant_key_is_refused_and_the_victim_is_untouched(
    demo_database_url: str,
) -> None:
    with serve_api(demo_database_url) as api:
        # The victim's deposit is in flight: paypal took it, its callback is far off.
        behave(api, "paypal", callback_delay_ms=600_000)
        victim = deposit(api, 1, "500.00", "USD")
        assert victim.status_code == 201, victim.text
        victim_id = victim.json()["transaction_id"]
        # A payment taken from now on would call back at once: the forgery's route.
        behave(api, "paypal", callback_delay_ms=50)
        behave(api, "adyen", callback_delay_ms=50)
        before = snapshot(api, victim_id)
        assert before["transaction"]["status"] == "processing"
        assert before["balances"] == []

        forged = {
            "reference": f"forged-{uuid.uuid4()}",
            "transaction_id": victim_id,
            "type": "deposit",
            "amount": "0.01",
            "currency": "USD",
            "user_id": 1,
        }
        for name, headers in NOT_PAYPALS_KEY.items():
            answer = api.post(
                "/sandbox/paypal/payments",
                json=forged,
                headers={"Idempotency-Key": forged["reference"], **headers},
            )
            assert answer.status_code == 401, (name, answer.text)
            assert answer.json()["error"]["code"] == "unauthorized", name
            # Status lookups are the merchant's too: they would tell whose payments exist.
            lookup = api.get(f"/sandbox/paypal/payments/{victim_id}:1", headers=headers)
            assert lookup.status_code == 401, (name, lookup.text)
        for name, headers in NOT_ADYENS_KEY.items():
            for body in (authorise(f"forged-{name}", victim_id, 1, "USD"), status_inquiry("x")):
                answer = api.post(
                    "/sandbox/adyen/soap",
                    content=body,
                    headers={"Content-Type": "text/xml; charset=utf-8", **headers},
                )
                assert answer.status_code == 401, (name, answer.text)
                assert "faultstring" in answer.text, name

        time.sleep(CALLBACK_WINDOW_S)
        assert snapshot(api, victim_id) == before  # nothing moved, nothing was recorded
        assert callbacks_received(demo_database_url) == 0  # no callback was ever sent
        out = payments_check(demo_database_url, api)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.startswith("payments check: OK, all invariants hold"), out.stdout
