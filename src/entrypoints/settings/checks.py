"""Settings that parse but cannot work together: refused at start-up, never later."""

from __future__ import annotations

from entrypoints.settings.model import Settings, SettingsError


def check_settings(settings: Settings) -> None:
    """Raise SettingsError on the first value out of range or inconsistent with another."""
    if settings.port <= 0 or settings.port > 65535:
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
    if settings.webhook_retry_hours <= 0 or settings.webhook_retry_base_s <= 0:
        raise SettingsError(
            "PAYMENTS_WEBHOOK_RETRY_HOURS and PAYMENTS_WEBHOOK_RETRY_BASE_S must be more than 0"
        )
    if not 0 < settings.webhook_timeout_s <= 60 or settings.webhook_max_endpoints < 1:
        raise SettingsError(
            "PAYMENTS_WEBHOOK_TIMEOUT_S must be in (0, 60], PAYMENTS_WEBHOOK_MAX_ENDPOINTS >= 1"
        )
    if settings.webhook_delivery not in ("process", "inline"):
        raise SettingsError("PAYMENTS_WEBHOOK_DELIVERY must be 'process' or 'inline'")
    if settings.webhook_retention_days < 1:
        raise SettingsError("PAYMENTS_WEBHOOK_RETENTION_DAYS must be at least 1")
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
