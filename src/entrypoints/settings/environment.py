"""Reading ``PAYMENTS_*`` environment variables into Settings, once at start-up.

Range and consistency checks of the values read live in checks.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from adapters.gateways.families import FAMILIES
from domain.routing_stats import SuccessRatePolicy
from entrypoints.settings.checks import check_settings
from entrypoints.settings.model import (
    DEFAULT_GATEWAYS,
    GatewayEndpoint,
    Settings,
    SettingsError,
)

_GATEWAY_ID = re.compile(r"^[a-z0-9_-]{1,32}$")


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


def _routing_policy(env: Mapping[str, str]) -> SuccessRatePolicy:
    d = SuccessRatePolicy()
    return SuccessRatePolicy(
        window=int(_number(env, "PAYMENTS_ROUTING_WINDOW", d.window)),
        min_sample=int(_number(env, "PAYMENTS_ROUTING_MIN_SAMPLE", d.min_sample)),
        exploration=_number(env, "PAYMENTS_ROUTING_EXPLORATION", d.exploration),
        eliminate_below=_number(env, "PAYMENTS_ROUTING_ELIMINATE_BELOW", d.eliminate_below),
        probe_share=_number(env, "PAYMENTS_ROUTING_PROBE_SHARE", d.probe_share),
        latency_weight=d.latency_weight,
    )


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
        if not _GATEWAY_ID.match(gid) or fmt not in FAMILIES.names:
            families = "|".join(FAMILIES.names)
            raise SettingsError(f"PAYMENTS_GATEWAYS entry {item!r} is not 'id:{families}'")
        url = env.get(f"PAYMENTS_GATEWAY_URL_{_env_name(gid)}")
        out.append(GatewayEndpoint(gid, fmt, url or f"{sandbox_url.rstrip('/')}/{gid}"))
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
        webhook_retry_hours=_number(env, "PAYMENTS_WEBHOOK_RETRY_HOURS", 72.0),
        webhook_retry_base_s=_number(env, "PAYMENTS_WEBHOOK_RETRY_BASE_S", 10.0),
        webhook_retry_cap_s=_number(env, "PAYMENTS_WEBHOOK_RETRY_CAP_S", 3600.0),
        webhook_timeout_s=_number(env, "PAYMENTS_WEBHOOK_TIMEOUT_S", 5.0),
        webhook_poll_s=_number(env, "PAYMENTS_WEBHOOK_POLL_S", 0.5),
        webhook_max_endpoints=int(_number(env, "PAYMENTS_WEBHOOK_MAX_ENDPOINTS", 50)),
        webhook_delivery=env.get("PAYMENTS_WEBHOOK_DELIVERY", "process").strip().lower(),
        webhook_retention_days=_number(env, "PAYMENTS_WEBHOOK_RETENTION_DAYS", 30.0),
        webhook_allow_private=env.get(
            "PAYMENTS_WEBHOOK_ALLOW_PRIVATE", "1" if database_url is None else "0"
        )
        == "1",
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
        routing_policy=_routing_policy(env),
        routing_stats_refresh_s=_number(env, "PAYMENTS_ROUTING_STATS_REFRESH_S", 2.0),
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
    check_settings(settings)
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
