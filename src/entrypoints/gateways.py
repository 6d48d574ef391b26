"""Wiring of the gateway adapters: each gateway's family adapter, wrapped in resilience.

Which adapter speaks which family is registered in ``adapters/gateways/families.py``.
"""

from __future__ import annotations

import logging

import httpx

from adapters.gateways.capabilities import FamilyCapabilities
from adapters.gateways.families import FAMILIES
from adapters.gateways.health import HealthChecker
from adapters.gateways.monitor import BreakerPolicy, GatewayMonitors
from adapters.gateways.registry import GatewayRegistry
from adapters.gateways.resilience import ResilientProvider, RetryPolicy
from adapters.gateways.wire_family import GatewaySetup
from adapters.observability import watch_gateways
from application.ports import PaymentProvider
from entrypoints.settings import GatewayEndpoint, Settings

log = logging.getLogger(__name__)


def gateway_setup(settings: Settings, endpoint: GatewayEndpoint) -> GatewaySetup:
    """What the gateway's family builds its adapter and verifier from."""
    return GatewaySetup(
        gateway_id=endpoint.id,
        url=endpoint.url,
        merchant_key=settings.gateway_keys.get(endpoint.id),
        webhook_secrets=tuple(settings.webhook_secrets.get(endpoint.id, ())),
        merchant_account=settings.soap_merchant_account,
    )


def adapter_for(
    settings: Settings, endpoint: GatewayEndpoint, client: httpx.AsyncClient
) -> PaymentProvider:
    """The adapter of the gateway's wire family, sending the gateway's merchant key."""
    return FAMILIES.get(endpoint.format).adapter(gateway_setup(settings, endpoint), client)


def build_capabilities(settings: Settings) -> FamilyCapabilities:
    """Which operations each gateway offers, from its wire family."""
    return FamilyCapabilities({g.id: FAMILIES.get(g.format) for g in settings.gateways})


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
        ResilientProvider(adapter_for(settings, endpoint, client), monitors.get(endpoint.id), retry)
        for endpoint in settings.gateways
    )


def build_health_checker(
    settings: Settings, client: httpx.AsyncClient, monitors: GatewayMonitors
) -> HealthChecker:
    return HealthChecker(
        monitors,
        {
            g.id: FAMILIES.get(g.format).health_probe(gateway_setup(settings, g))
            for g in settings.gateways
        },
        client,
        interval_s=settings.health_interval_s,
    )
