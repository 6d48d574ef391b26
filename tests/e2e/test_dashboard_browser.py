"""The operator dashboard in a real browser against the real service.

Each test gets a fresh demo database (US → paypal first, GB → stripe first),
the whole service over HTTP, and a cookie-less Chromium tab. Payments are made
through the JSON API, as the trading platform would; the operator only uses
the pages.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.helpers import log_in, screenshot
from tests.support.api import ADMIN, ADMIN_KEY, CLIENT_KEY, attempts, deposit


def base(api: httpx.Client) -> str:
    return str(api.base_url).rstrip("/")


def gb_order(page: Page) -> list[str]:
    """Gateway ids of GB's routing table, top to bottom."""
    rows = page.locator("#country-GB tbody tr")
    return [rows.nth(i).get_attribute("data-gateway") or "" for i in range(rows.count())]


def test_login_refuses_wrong_keys_and_accepts_the_admin_key(
    page: Page, browser: BrowserContext, api: httpx.Client
) -> None:
    page.goto(f"{base(api)}/dashboard/transactions")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next=/dashboard/transactions$"))

    page.get_by_label("Admin API key").fill("sk_admin_not-a-real-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Unknown API key.")
    screenshot(page, "01-login-refused")

    page.get_by_label("Admin API key").fill(CLIENT_KEY)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("needs an admin API key")
    assert browser.cookies() == []  # refused logins get no session at all

    page.get_by_label("Admin API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Log in").click()
    # Back to the page first asked for.
    expect(page).to_have_url(re.compile(r"/dashboard/transactions$"))
    expect(page.get_by_role("heading", name="Transactions")).to_be_visible()

    (cookie,) = browser.cookies()
    assert cookie["name"] == "payments_dashboard"
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/dashboard"
    assert ADMIN_KEY not in cookie["value"]  # an opaque session id, never the key
    # Scripts cannot read it either.
    assert "payments_dashboard" not in page.evaluate("document.cookie")

    page.get_by_role("link", name="Gateways", exact=True).click()
    for gateway in ("paypal", "stripe", "adyen"):
        expect(page.locator(f"#gateway-{gateway} [data-field=admin_status]")).to_have_text("up")
    screenshot(page, "02-gateways")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))
    page.goto(f"{base(api)}/dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))


def test_a_deposit_made_through_the_api_appears_in_recent_transactions(
    page: Page, api: httpx.Client
) -> None:
    log_in(page, base(api))
    page.get_by_role("link", name="Transactions", exact=True).click()
    expect(page.get_by_text("No transactions.")).to_be_visible()

    r = deposit(api, 1, "12.34", "USD")
    assert r.status_code == 201, r.text
    tx_id = r.json()["transaction_id"]

    # No reload: the table refreshes itself, and the sandbox's callback
    # completes the deposit a moment later.
    row = page.locator(f'tr[data-transaction="{tx_id}"]')
    expect(row).to_be_visible()
    expect(row.locator("[data-field=gateway]")).to_have_text("paypal")
    expect(row.locator("[data-field=status]")).to_have_text("completed")
    expect(row).to_contain_text("12.34 USD")
    screenshot(page, "03-transactions")

    # Filters: another user's list does not have it; user 1's completed ones do.
    page.get_by_label("User").fill("2")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No transactions match.")).to_be_visible()
    page.get_by_label("User").fill("1")
    page.get_by_label("Status").select_option("completed")
    page.get_by_role("button", name="Filter").click()
    expect(row).to_be_visible()

    # A bad filter is a message on the page, not an error page.
    page.get_by_label("User").fill("one")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("error")).to_contain_text("User id must be a whole number")

    page.goto(f"{base(api)}/dashboard/transactions?user_id=1")
    row.get_by_role("link", name=tx_id).click()
    expect(page.get_by_test_id("status")).to_have_text("completed")
    expect(page.locator("#attempts tbody tr")).to_have_count(1)
    expect(page.locator("#attempts tbody tr").first).to_contain_text("accepted")
    expect(page.locator("#history tbody")).to_contain_text("completed")
    screenshot(page, "04-transaction-detail")

    page.get_by_role("link", name="balances", exact=True).click()
    expect(page.locator('#balances tr[data-currency="USD"]')).to_contain_text("12.34")


def test_switching_stripe_down_sends_the_next_gb_deposit_to_paypal(
    page: Page, api: httpx.Client
) -> None:
    log_in(page, base(api))
    stripe = page.locator("#gateway-stripe")
    stripe.get_by_role("button", name="Switch down").click()  # confirmed by the fixture
    expect(page.get_by_role("status")).to_have_text("Gateway stripe is down: routing skips it.")
    expect(stripe.locator("[data-field=admin_status]")).to_have_text("down")
    screenshot(page, "05-stripe-down")

    # The API sees the same switch (it went through the same use case).
    gateways = {g["id"]: g for g in api.get("/gateways", headers=ADMIN).json()}
    assert gateways["stripe"]["admin_status"] == "down"

    page.get_by_role("link", name="Routing", exact=True).click()
    expect(page.get_by_test_id("effective-GB")).to_have_text(
        re.compile(r"Next payment tries:\s*paypal\s*→\s*adyen\s*$")
    )
    expect(page.locator('#country-GB tr[data-gateway="stripe"]')).to_contain_text("down")
    screenshot(page, "06-routing-stripe-down")

    r = deposit(api, 2, "20.00", "GBP")  # user 2 lives in GB, where stripe comes first
    assert r.status_code == 201, r.text
    assert r.json()["gateway"] == "paypal"
    assert attempts(api, r.json()["transaction_id"]) == [("paypal", "accepted")]

    page.get_by_role("link", name="Transactions", exact=True).click()
    row = page.locator(f'tr[data-transaction="{r.json()["transaction_id"]}"]')
    expect(row.locator("[data-field=gateway]")).to_have_text("paypal")

    # And back up: GB is stripe's again.
    page.get_by_role("link", name="Gateways", exact=True).click()
    stripe.get_by_role("button", name="Switch up").click()
    expect(stripe.locator("[data-field=admin_status]")).to_have_text("up")
    r = deposit(api, 2, "21.00", "GBP")
    assert r.json()["gateway"] == "stripe", r.text


def test_reordering_priorities_changes_the_order_and_the_routing(
    page: Page, api: httpx.Client
) -> None:
    log_in(page, base(api))
    page.get_by_role("link", name="Routing", exact=True).click()
    assert gb_order(page) == ["stripe", "paypal", "adyen"]

    page.get_by_role("button", name="Move paypal up in GB").click()
    expect(page.get_by_role("status")).to_have_text(
        "GB priorities saved: paypal 1, stripe 2, adyen 3."
    )
    assert gb_order(page) == ["paypal", "stripe", "adyen"]
    expect(page.get_by_test_id("effective-GB")).to_contain_text("paypal → stripe → adyen")
    screenshot(page, "07-routing-moved")

    saved = api.get("/countries/GB/gateways", headers=ADMIN).json()
    assert saved == [
        {"gateway_id": "paypal", "priority": 1},
        {"gateway_id": "stripe", "priority": 2},
        {"gateway_id": "adyen", "priority": 3},
    ]
    r = deposit(api, 2, "30.00", "GBP")
    assert r.json()["gateway"] == "paypal", r.text

    # Typed numbers: adyen first.
    page.get_by_label("Priority of adyen in GB").fill("5")
    page.get_by_label("Priority of paypal in GB").fill("10")
    page.get_by_label("Priority of stripe in GB").fill("20")
    page.locator("#country-GB").get_by_role("button", name="Save priorities").click()
    expect(page.get_by_role("status")).to_contain_text("adyen 5, paypal 10, stripe 20")
    assert gb_order(page) == ["adyen", "paypal", "stripe"]
    r = deposit(api, 2, "31.00", "GBP")
    assert r.json()["gateway"] == "adyen", r.text

    # Two gateways on one number are refused with a message; nothing changes.
    page.get_by_label("Priority of stripe in GB").fill("5")
    page.get_by_label("Priority of stripe in GB").press("Enter")  # Enter saves too
    expect(page.get_by_role("alert")).to_have_text("Priorities must be distinct.")
    assert gb_order(page) == ["adyen", "paypal", "stripe"]
    screenshot(page, "08-routing-refused")

    # The other countries were left alone.
    us = api.get("/countries/US/gateways", headers=ADMIN).json()
    assert [e["gateway_id"] for e in us] == ["paypal", "stripe", "adyen"]
