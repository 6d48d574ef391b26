"""Prometheus metrics at /metrics carry live values after real traffic."""

from __future__ import annotations

import re
import time

from tests.support.api import behave, deposit, serve_api, wait_for_status


def value(text: str, name: str, **labels: str) -> float:
    """The sample's value, e.g. value(text, "payments_x_total", gateway="paypal")."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    raise AssertionError(f"no sample {name} {labels}")


def test_metrics_expose_live_payment_series(demo_database_url: str) -> None:
    with serve_api(demo_database_url, PAYMENTS_HEALTH_INTERVAL_S="0.2") as api:
        before = api.get("/metrics").text
        calls_before = (
            value(before, "payments_gateway_calls_total", gateway="paypal", outcome="accepted")
            if 'gateway="paypal",outcome="accepted"' in before
            else 0.0
        )
        behave(api, "stripe", mode="down")
        tx = deposit(api, 1, "10.00", "USD").json()
        wait_for_status(api, tx["transaction_id"], "completed")
        time.sleep(6)  # the workers refresh the outbox gauges every 5 s
        text = api.get("/metrics").text
    assert (
        value(text, "payments_gateway_calls_total", gateway="paypal", outcome="accepted")
        == calls_before + 1
    )
    assert value(text, "payments_gateway_call_seconds_count", gateway="paypal") >= 1
    assert value(text, "payments_transactions_total", type="deposit", status="processing") >= 1
    assert value(text, "payments_callbacks_applied_total", gateway="paypal", result="applied") >= 1
    assert value(text, "payments_callback_apply_lag_seconds_count") >= 1
    assert value(text, "payments_gateway_breaker_state", gateway="paypal") == 0
    assert value(text, "payments_gateway_health", gateway="paypal") == 1
    assert value(text, "payments_gateway_health", gateway="stripe") == 0
    assert value(text, "payments_outbox_published_total") >= 3
    assert value(text, "payments_outbox_backlog") == 0
    assert value(text, "payments_outbox_lag_seconds") == 0
    assert value(text, "payments_reconciliation_open_issues") == 0
    assert "payments_reconciliation_total" in text
    # Request latency histograms by route template, not by raw path.
    assert 'path="/transactions/{transaction_id}"' in text
    assert "payments_http_request_duration_seconds_bucket" in text
