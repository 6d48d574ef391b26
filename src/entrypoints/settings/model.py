"""The service's settings: one frozen dataclass, read once at start-up (see environment.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from domain.routing_stats import SuccessRatePolicy

# A registered wire family (adapters/gateways/families.py): "json", "soap", ...
GatewayFormat = str
DEFAULT_GATEWAYS = "paypal:json,stripe:stripe_api,adyen:soap"


# Default admission limits (see Settings.payment_admission_limit).
PAYMENTS_PER_DB_CONNECTION = 16
CALLBACKS_PER_PAYMENT_SLOT = 2


class SettingsError(ValueError):
    """Configuration that cannot work; raised at start-up, never later."""


@dataclass(frozen=True, slots=True)
class GatewayEndpoint:
    id: str
    format: GatewayFormat
    url: str


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    data_dir: Path = Path(".payments")
    host: str = "127.0.0.1"
    port: int = 8080
    api_keys: tuple[str, ...] = ()
    admin_api_keys: tuple[str, ...] = ()
    encryption_keys: str | None = None  # "id:base64key,..." first is primary
    # Per gateway: JSON family HMAC secrets, SOAP family hex HMAC keys; several
    # (comma-separated) during rotation, the first used by our sandbox to sign.
    webhook_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Per gateway: the merchant credential (a PSP's secret API key) our adapters
    # send and the sandbox demands on every gateway-side call.
    gateway_keys: Mapping[str, str] = field(default_factory=dict)
    kafka_topic_prefix: str = ""
    kafka_group_id: str = "payments-callbacks"
    kafka_partitions: int = 6
    relay_poll_s: float = 1.0
    # /ready is degraded when the oldest callback not yet applied is older.
    settlement_degraded_after_s: float = 60.0
    # A callback whose apply raises is tried this often (with backoff), then quarantined.
    callback_max_attempts: int = 5
    callback_retry_base_s: float = 1.0
    # Outgoing webhooks: a failed delivery is retried with exponential backoff
    # (base, cap, jitter) for this long; an endpoint failing that long is disabled.
    webhook_retry_hours: float = 72.0
    webhook_retry_base_s: float = 10.0
    webhook_retry_cap_s: float = 3600.0
    webhook_timeout_s: float = 5.0  # one attempt, connect to last byte
    webhook_poll_s: float = 0.5  # how often a worker looks for due deliveries
    webhook_max_endpoints: int = 50  # endpoints served at once per worker process
    # Where the deliveries of an API process with workers run: "process" (a
    # child process, entrypoints/webhook_process.py) or "inline" (on the
    # workers' event loop; what `payments worker` does, being off the API).
    webhook_delivery: str = "process"
    webhook_retention_days: float = 30.0  # finished delivery rows kept this long
    # Production refuses loopback/private/link-local targets unless this is set;
    # the embedded default allows them (see adapters/webhooks/targets.py).
    webhook_allow_private: bool = False
    sandbox_callback_url: str | None = None  # where sandbox PSPs send callbacks
    gateways: tuple[GatewayEndpoint, ...] = ()
    # Our merchant account at SOAP (Adyen-style) gateways: sent with every
    # request, and a notification for any other account is flagged, not applied.
    soap_merchant_account: str = "PaymentsPlatform"
    serve_sandbox: bool = False
    gateway_connect_timeout_s: float = 2.0
    gateway_read_timeout_s: float = 10.0
    retry_attempts: int = 3
    retry_budget_s: float = 5.0
    retry_backoff_base_s: float = 0.1
    retry_backoff_cap_s: float = 1.0
    breaker_fail_max: int = 5
    breaker_reset_s: float = 30.0
    health_interval_s: float = 10.0
    run_workers: bool = True  # relay, callback consumer, health checker beside the API
    # Users' countries and routes, cached per process; every change is
    # announced at once (LISTEN/NOTIFY), the TTL is only a last line of defence.
    route_cache_ttl_s: float = 60.0
    # success_rate routing: its knobs, and how often windows merge from PostgreSQL.
    routing_policy: SuccessRatePolicy = field(default_factory=SuccessRatePolicy)
    routing_stats_refresh_s: float = 2.0
    idempotency_ttl_s: int = 24 * 3600
    # An in-flight key is 409 only while its request's lease lasts (renewed as
    # it runs); a lease that ran out means the process died: a retry takes over.
    idempotency_lease_s: float = 60.0
    reconcile_after_s: float = 300.0  # a transaction this long in flight is asked about
    reconcile_interval_s: float = 60.0
    db_pool_min: int = 2
    db_pool_max: int = 10
    # How long a request waits for a database connection before answering 503:
    # short, so an outage fails requests fast instead of piling them up.
    db_pool_timeout_s: float = 3.0
    # Admission control, per worker process (entrypoints/http/admission.py):
    # payment requests beyond this many running at once are refused at once
    # with 503 + Retry-After, before any work. None: derived, see below.
    max_inflight_payments: int | None = None
    # A worker whose event loop runs this late is out of CPU: new payments are
    # shed (callbacks at twice the lag). 0 turns the lag test off.
    admission_max_lag_s: float = 0.05
    max_inflight_callbacks: int | None = None
    max_body_bytes: int = 64 * 1024
    # Slow and oversized clients, for both servers we run (entrypoints/http_server.py):
    # a request's headers must arrive within header_timeout_s and fit in
    # max_header_bytes; an idle keep-alive connection closes after
    # keep_alive_timeout_s; at most max_connections at once per process.
    header_timeout_s: float = 10.0
    keep_alive_timeout_s: float = 5.0
    max_header_bytes: int = 16 * 1024
    max_connections: int = 2048
    # A body over max_body_bytes is read and discarded up to this bound before
    # the 413 goes out, so the client reads the answer instead of a reset.
    max_drain_bytes: int = 16 * 1024 * 1024
    # Token bucket per API key, per worker process (entrypoints/http/rate_limit.py):
    # sustained requests/s and burst. 0 turns it off.
    rate_limit_per_s: float = 100.0
    rate_limit_burst: int = 200
    # Dashboard logins, per client address and per worker process (in memory,
    # entrypoints/http/dashboard/login_throttle.py): after this many refused
    # keys within the window, 429 + Retry-After until the window has passed.
    dashboard_login_max_failures: int = 5
    dashboard_login_window_s: float = 300.0
    # Proxies whose X-Forwarded-For/-Proto uvicorn believes (addresses or CIDRs);
    # empty: the TCP peer is the client, whatever headers it sends.
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"
    # No database URL was configured: a newcomer's first run on the embedded
    # default (embedded PostgreSQL, generated secrets, demo data, sandbox).
    embedded: bool = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def payment_admission_limit(self) -> int:
        """Concurrent POST /deposit and /withdrawal per worker (0: no limit).

        A bound on memory and sockets, not the knee: a payment holds a pooled
        connection only for its two short units of work and mostly awaits
        the gateway, so how many may wait depends on the PSPs' latency (50 ms
        in the benchmark, seconds for real ones). Saturation is detected by
        the event loop's lag instead (``admission_max_lag_s``), which holds
        for any latency. Derived: 16 payments per pooled connection.
        """
        if self.max_inflight_payments is not None:
            return self.max_inflight_payments
        return PAYMENTS_PER_DB_CONNECTION * self.db_pool_max

    @property
    def callback_admission_limit(self) -> int:
        """Concurrent POST /callback/{id} per worker (0: no limit).

        Larger than the payment limit: a callback settles work already under
        way, so new payments are shed first; gateways retry refused callbacks.
        """
        if self.max_inflight_callbacks is not None:
            return self.max_inflight_callbacks
        return CALLBACKS_PER_PAYMENT_SLOT * self.payment_admission_limit

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
