"""Settings, read once from ``PAYMENTS_*`` environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

GatewayFormat = Literal["json", "soap"]
_GATEWAY_ID = re.compile(r"^[a-z0-9_-]{1,32}$")
DEFAULT_GATEWAYS = "paypal:json,stripe:json,adyen:soap"


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


def _keys(raw: str | None) -> tuple[str, ...]:
    return tuple(k.strip() for k in (raw or "").split(",") if k.strip())


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _limit(env: Mapping[str, str], name: str) -> int | None:
    """A concurrency limit: unset or empty means derived (None); 0 means none."""
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    value = _number(env, name, 0)
    if value < 0 or value != int(value):
        raise SettingsError(f"{name} must be a whole number, 0 or more, got {raw!r}")
    return int(value)


def _env_name(gateway_id: str) -> str:
    return gateway_id.upper().replace("-", "_")


def gateway_key_env(gateway_id: str) -> str:
    """The variable holding a gateway's merchant credential (``PAYMENTS_GATEWAY_KEY_<ID>``)."""
    return f"PAYMENTS_GATEWAY_KEY_{_env_name(gateway_id)}"


def _gateways(env: Mapping[str, str], sandbox_url: str) -> tuple[GatewayEndpoint, ...]:
    out = []
    for item in _keys(env.get("PAYMENTS_GATEWAYS", DEFAULT_GATEWAYS)):
        gid, _, fmt = item.partition(":")
        fmt = fmt or "json"
        if not _GATEWAY_ID.match(gid) or fmt not in ("json", "soap"):
            raise SettingsError(f"PAYMENTS_GATEWAYS entry {item!r} is not 'id:json|soap'")
        url = env.get(f"PAYMENTS_GATEWAY_URL_{_env_name(gid)}")
        out.append(GatewayEndpoint(gid, fmt, url or f"{sandbox_url.rstrip('/')}/{gid}"))  # type: ignore[arg-type]
    return tuple(out)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (``os.environ`` by default)."""
    env = os.environ if env is None else env
    host = env.get("PAYMENTS_HOST", "127.0.0.1")
    port = int(_number(env, "PAYMENTS_PORT", 8080))
    database_url = env.get("PAYMENTS_DATABASE_URL") or None
    sandbox_url = env.get("PAYMENTS_SANDBOX_URL") or f"http://{host}:{port}/sandbox"
    gateways = _gateways(env, sandbox_url)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=env.get("PAYMENTS_KAFKA_BOOTSTRAP_SERVERS") or None,
        data_dir=Path(env.get("PAYMENTS_DATA_DIR", ".payments")),
        host=host,
        port=port,
        api_keys=_keys(env.get("PAYMENTS_API_KEYS")),
        admin_api_keys=_keys(env.get("PAYMENTS_ADMIN_API_KEYS")),
        encryption_keys=env.get("PAYMENTS_ENCRYPTION_KEYS") or None,
        webhook_secrets={
            g.id: _keys(env.get(f"PAYMENTS_WEBHOOK_SECRET_{_env_name(g.id)}"))
            for g in gateways
            if env.get(f"PAYMENTS_WEBHOOK_SECRET_{_env_name(g.id)}")
        },
        gateway_keys={
            g.id: env[gateway_key_env(g.id)].strip()
            for g in gateways
            if env.get(gateway_key_env(g.id), "").strip()
        },
        kafka_topic_prefix=env.get("PAYMENTS_KAFKA_TOPIC_PREFIX", ""),
        kafka_group_id=env.get("PAYMENTS_KAFKA_GROUP_ID", "payments-callbacks"),
        kafka_partitions=int(_number(env, "PAYMENTS_KAFKA_PARTITIONS", 6)),
        relay_poll_s=_number(env, "PAYMENTS_RELAY_POLL_S", 1.0),
        settlement_degraded_after_s=_number(env, "PAYMENTS_SETTLEMENT_DEGRADED_AFTER_S", 60.0),
        callback_max_attempts=int(_number(env, "PAYMENTS_CALLBACK_MAX_ATTEMPTS", 5)),
        callback_retry_base_s=_number(env, "PAYMENTS_CALLBACK_RETRY_BASE_S", 1.0),
        sandbox_callback_url=env.get("PAYMENTS_SANDBOX_CALLBACK_URL") or None,
        gateways=gateways,
        soap_merchant_account=env.get("PAYMENTS_SOAP_MERCHANT_ACCOUNT", "").strip()
        or "PaymentsPlatform",
        # The sandbox is served in-process on the embedded default, or on request.
        serve_sandbox=env.get("PAYMENTS_SERVE_SANDBOX", "1" if database_url is None else "0")
        == "1",
        gateway_connect_timeout_s=_number(env, "PAYMENTS_GATEWAY_CONNECT_TIMEOUT_S", 2.0),
        gateway_read_timeout_s=_number(env, "PAYMENTS_GATEWAY_READ_TIMEOUT_S", 10.0),
        retry_attempts=int(_number(env, "PAYMENTS_RETRY_ATTEMPTS", 3)),
        retry_budget_s=_number(env, "PAYMENTS_RETRY_BUDGET_S", 5.0),
        retry_backoff_base_s=_number(env, "PAYMENTS_RETRY_BACKOFF_BASE_S", 0.1),
        retry_backoff_cap_s=_number(env, "PAYMENTS_RETRY_BACKOFF_CAP_S", 1.0),
        breaker_fail_max=int(_number(env, "PAYMENTS_BREAKER_FAIL_MAX", 5)),
        breaker_reset_s=_number(env, "PAYMENTS_BREAKER_RESET_S", 30.0),
        health_interval_s=_number(env, "PAYMENTS_HEALTH_INTERVAL_S", 10.0),
        run_workers=env.get("PAYMENTS_RUN_WORKERS", "1") != "0",
        route_cache_ttl_s=_number(env, "PAYMENTS_ROUTE_CACHE_TTL_S", 60.0),
        idempotency_ttl_s=int(_number(env, "PAYMENTS_IDEMPOTENCY_TTL_H", 24) * 3600),
        idempotency_lease_s=_number(env, "PAYMENTS_IDEMPOTENCY_LEASE_S", 60.0),
        reconcile_after_s=_number(env, "PAYMENTS_RECONCILE_AFTER_S", 300.0),
        reconcile_interval_s=_number(env, "PAYMENTS_RECONCILE_INTERVAL_S", 60.0),
        db_pool_min=int(_number(env, "PAYMENTS_DB_POOL_MIN", 2)),
        db_pool_max=int(_number(env, "PAYMENTS_DB_POOL_MAX", 10)),
        db_pool_timeout_s=_number(env, "PAYMENTS_DB_POOL_TIMEOUT_S", 3.0),
        max_inflight_payments=_limit(env, "PAYMENTS_MAX_INFLIGHT_PAYMENTS"),
        admission_max_lag_s=_number(env, "PAYMENTS_ADMISSION_MAX_LAG_MS", 50.0) / 1000,
        max_inflight_callbacks=_limit(env, "PAYMENTS_MAX_INFLIGHT_CALLBACKS"),
        max_body_bytes=int(_number(env, "PAYMENTS_MAX_BODY_BYTES", 64 * 1024)),
        header_timeout_s=_number(env, "PAYMENTS_HEADER_TIMEOUT_S", 10.0),
        keep_alive_timeout_s=_number(env, "PAYMENTS_KEEP_ALIVE_TIMEOUT_S", 5.0),
        max_header_bytes=int(_number(env, "PAYMENTS_MAX_HEADER_BYTES", 16 * 1024)),
        max_connections=int(_number(env, "PAYMENTS_MAX_CONNECTIONS", 2048)),
        max_drain_bytes=int(_number(env, "PAYMENTS_MAX_DRAIN_BYTES", 16 * 1024 * 1024)),
        rate_limit_per_s=_number(env, "PAYMENTS_RATE_LIMIT_PER_S", 100.0),
        rate_limit_burst=int(_number(env, "PAYMENTS_RATE_LIMIT_BURST", 200)),
        dashboard_login_max_failures=int(_number(env, "PAYMENTS_DASHBOARD_LOGIN_MAX_FAILURES", 5)),
        dashboard_login_window_s=_number(env, "PAYMENTS_DASHBOARD_LOGIN_WINDOW_S", 300.0),
        trusted_proxies=_keys(env.get("PAYMENTS_TRUSTED_PROXIES")),
        log_level=env.get("PAYMENTS_LOG_LEVEL", "INFO").upper(),
        embedded=database_url is None,
    )
    if port <= 0 or port > 65535:
        raise SettingsError("PAYMENTS_PORT must be between 1 and 65535")
    if not 1 <= settings.retry_attempts <= 10:
        raise SettingsError("PAYMENTS_RETRY_ATTEMPTS must be between 1 and 10")
    longest_call = (
        settings.gateway_connect_timeout_s
        + settings.gateway_read_timeout_s
        + settings.retry_budget_s
    )
    if settings.reconcile_after_s < longest_call:
        # Sooner, and the reconciler could settle a payment whose own request
        # is still waiting for the gateway's answer.
        raise SettingsError(
            f"PAYMENTS_RECONCILE_AFTER_S must be at least {longest_call:g} "
            "(connect + read timeout + retry budget)"
        )
    if settings.idempotency_ttl_s < 24 * 3600:
        raise SettingsError("PAYMENTS_IDEMPOTENCY_TTL_H must be at least 24")
    if not 0 < settings.idempotency_lease_s <= 3600:
        raise SettingsError("PAYMENTS_IDEMPOTENCY_LEASE_S must be more than 0 and at most 3600")
    if settings.breaker_fail_max < 1:
        raise SettingsError("PAYMENTS_BREAKER_FAIL_MAX must be at least 1")
    if settings.rate_limit_per_s < 0 or settings.rate_limit_burst < 1:
        raise SettingsError(
            "PAYMENTS_RATE_LIMIT_PER_S must be >= 0 and PAYMENTS_RATE_LIMIT_BURST >= 1"
        )
    if settings.max_header_bytes < 8192:
        raise SettingsError("PAYMENTS_MAX_HEADER_BYTES must be at least 8192")
    if settings.dashboard_login_max_failures < 1 or settings.dashboard_login_window_s < 1:
        raise SettingsError(
            "PAYMENTS_DASHBOARD_LOGIN_MAX_FAILURES and _WINDOW_S must be at least 1"
        )
    return settings


def require_production_secrets(settings: Settings) -> None:
    """With a real database, missing secrets are a start-up error, never a default."""
    if settings.embedded:
        return
    missing = [
        name
        for name, value in (
            ("PAYMENTS_API_KEYS", settings.api_keys),
            ("PAYMENTS_ADMIN_API_KEYS", settings.admin_api_keys),
            ("PAYMENTS_ENCRYPTION_KEYS", settings.encryption_keys),
        )
        if not value
    ]
    missing += [
        f"PAYMENTS_WEBHOOK_SECRET_{_env_name(g.id)}"
        for g in settings.gateways
        if not settings.webhook_secrets.get(g.id)
    ]
    missing += [
        gateway_key_env(g.id) for g in settings.gateways if not settings.gateway_keys.get(g.id)
    ]
    if missing:
        raise SettingsError(f"missing required settings: {', '.join(missing)}")
