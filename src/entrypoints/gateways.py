"""Registration of gateway adapters: the one place a new gateway family is added."""

from __future__ import annotations

import logging

import httpx

from adapters.gateways.health import HealthChecker
from adapters.gateways.json_http import JsonGatewayProvider
from adapters.gateways.monitor import BreakerPolicy, GatewayMonitors
from adapters.gateways.registry import GatewayRegistry
from adapters.gateways.resilience import ResilientProvider, RetryPolicy
from adapters.gateways.soap_http import SoapGatewayProvider
from adapters.observability import watch_gateways
from application.ports import PaymentProvider
from entrypoints.settings import GatewayEndpoint, Settings

log = logging.getLogger(__name__)


def adapter_for(
    endpoint: GatewayEndpoint,
    client: httpx.AsyncClient,
    merchant_account: str = "PaymentsPlatform",
    merchant_key: str | None = None,
) -> PaymentProvider:
    """The wire-format adapter of a gateway family, sending the gateway's merchant key."""
    if endpoint.format == "soap":
        return SoapGatewayProvider(
            endpoint.id, endpoint.url, client, merchant_account, merchant_key=merchant_key
        )
    return JsonGatewayProvider(endpoint.id, endpoint.url, client, merchant_key=merchant_key)


def build_monitors(settings: Settings) -> GatewayMonitors:
    return watch_gateways(
        GatewayMonitors(
            [g.id for g in settings.gateways],
            BreakerPolicy(
                fail_max=settings.breaker_fail_max, reset_timeout_s=settings.breaker_reset_s
            ),
        )
    )


def build_registry(
    settings: Settings, client: httpx.AsyncClient, monitors: GatewayMonitors
) -> GatewayRegistry:
    retry = RetryPolicy(
        attempts=settings.retry_attempts,
        budget_s=settings.retry_budget_s,
        backoff_base_s=settings.retry_backoff_base_s,
        backoff_cap_s=settings.retry_backoff_cap_s,
    )
    return GatewayRegistry(
        ResilientProvider(
            adapter_for(
                endpoint,
                client,
                settings.soap_merchant_account,
                merchant_key=settings.gateway_keys.get(endpoint.id),
            ),
            monitors.get(endpoint.id),
            retry,
        )
        for endpoint in settings.gateways
    )


def build_health_checker(
    settings: Settings, client: httpx.AsyncClient, monitors: GatewayMonitors
) -> HealthChecker:
    return HealthChecker(
        monitors,
        {g.id: f"{g.url.rstrip('/')}/health" for g in settings.gateways},
        client,
        interval_s=settings.health_interval_s,
    )
