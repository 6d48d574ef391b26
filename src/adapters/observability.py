"""Prometheus metrics of the payment flow (scraped at ``GET /metrics``).

HTTP request metrics (latency histograms by route template, status codes)
come from Litestar's Prometheus middleware; these are the payment-specific
series. Gauges that describe state (breakers, health, outbox backlog) are
read when scraped or refreshed by the workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from adapters.gateways.monitor import GatewayMonitors

GATEWAY_CALLS = Counter(
    "payments_gateway_calls_total",
    "Calls to payment gateways by outcome class (every try, retries included).",
    ["gateway", "outcome"],
)
GATEWAY_CALL_SECONDS = Histogram(
    "payments_gateway_call_seconds",
    "Duration of one call to a gateway.",
    ["gateway"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GATEWAY_FAILURES_EXCUSED = Counter(
    "payments_gateway_failures_excused_total",
    "Failed gateway calls not held against the gateway's breaker because the cause was "
    "ours: pool_exhausted (our connection pool to it) or loop_lag (our event loop stalled).",
    ["gateway", "reason"],
)
HTTP_SHED = Counter(
    "payments_http_shed_total",
    "Requests refused at once (503 + Retry-After) because this worker already ran its "
    "cap of them concurrently: admission control, by kind (payment, callback).",
    ["kind"],
)
TRANSACTIONS = Counter(
    "payments_transactions_total",
    "Transactions answered by the API, by type and resulting status.",
    ["type", "status"],
)
OUTBOX_PUBLISHED = Counter(
    "payments_outbox_published_total", "Outbox messages handed to Kafka (or in-process)."
)
OUTBOX_BACKLOG = Gauge("payments_outbox_backlog", "Outbox messages not yet published.")
OUTBOX_LAG = Gauge("payments_outbox_lag_seconds", "Age of the oldest unpublished outbox message.")
SETTLEMENT_BACKLOG = Gauge(
    "payments_settlement_backlog",
    "Callbacks received but not yet applied (those waiting for a retry included).",
)
SETTLEMENT_OLDEST = Gauge(
    "payments_settlement_oldest_unapplied_seconds",
    "Age of the oldest callback received but not yet applied; /ready is degraded past "
    "PAYMENTS_SETTLEMENT_DEGRADED_AFTER_S.",
)
CALLBACKS_APPLIED = Counter(
    "payments_callbacks_applied_total",
    "Verified callbacks processed by the worker, by result.",
    ["gateway", "result"],
)
CALLBACK_APPLY_LAG = Histogram(
    "payments_callback_apply_lag_seconds",
    "From callback accepted to callback applied.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RECONCILIATION = Counter(
    "payments_reconciliation_total",
    "Reconciler results: transactions completed, failed, left open, flagged; gateways unreachable.",
    ["result"],
)
RECONCILIATION_OPEN_ISSUES = Gauge(
    "payments_reconciliation_open_issues", "Reconciliation findings waiting for a human."
)
# Outgoing webhooks, read from the database (adapters/postgres/webhooks_upkeep.py):
# the same numbers in every process, wherever the deliveries run.
WEBHOOK_DUE = Gauge("payments_webhook_due", "Webhook deliveries due now, not yet sent.")
WEBHOOK_RETRYING = Gauge(
    "payments_webhook_retrying", "Failed webhook deliveries waiting for their next try."
)
WEBHOOK_OLDEST_DUE = Gauge(
    "payments_webhook_oldest_due_seconds", "How long the oldest due webhook delivery has waited."
)
WEBHOOK_ENDPOINTS = Gauge(
    "payments_webhook_endpoints",
    "Webhook endpoints: enabled, disabled (failed for the whole retry window), "
    "failing (enabled, inside a failure streak).",
    ["status"],
)

_BREAKER = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
_HEALTH = {"healthy": 1.0, "unhealthy": 0.0, "unknown": -1.0}


class _GatewayState(Collector):
    """Breaker state and health of each gateway, read at scrape time."""

    def __init__(self) -> None:
        self.monitors: GatewayMonitors | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        breaker = GaugeMetricFamily(
            "payments_gateway_breaker_state",
            "Circuit breaker per gateway: 0 closed, 1 half-open, 2 open.",
            labels=["gateway"],
        )
        health = GaugeMetricFamily(
            "payments_gateway_health",
            "Health check per gateway: 1 healthy, 0 unhealthy, -1 unknown.",
            labels=["gateway"],
        )
        if self.monitors is not None:
            for gateway_id in self.monitors.ids():
                runtime = self.monitors.runtime(gateway_id)
                breaker.add_metric([gateway_id], _BREAKER[runtime.breaker])
                health.add_metric([gateway_id], _HEALTH[runtime.health])
        yield breaker
        yield health


_gateway_state = _GatewayState()
REGISTRY.register(_gateway_state)


def watch_gateways(monitors: GatewayMonitors) -> GatewayMonitors:
    """Expose these monitors' breakers and health (the process's current ones)."""
    _gateway_state.monitors = monitors
    return monitors


def callback_applied(gateway_id: str, result: str, accepted_at: str | None) -> None:
    CALLBACKS_APPLIED.labels(gateway_id, result).inc()
    if accepted_at:
        try:
            started = datetime.fromisoformat(accepted_at)
        except ValueError:
            return
        CALLBACK_APPLY_LAG.observe(
            max(0.0, (datetime.now(started.tzinfo) - started).total_seconds())
        )
