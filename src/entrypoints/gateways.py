"""Registration of gateway adapters: the one place a new gateway family is added."""

from __future__ import annotations

import logging

import httpx

from adapters.gateways.json_http import JsonGatewayProvider
from adapters.gateways.registry import GatewayRegistry
from entrypoints.settings import GatewayEndpoint

log = logging.getLogger(__name__)


def build_registry(
    endpoints: tuple[GatewayEndpoint, ...], client: httpx.AsyncClient
) -> GatewayRegistry:
    registry = GatewayRegistry()
    for endpoint in endpoints:
        if endpoint.format == "json":
            registry.register(JsonGatewayProvider(endpoint.id, endpoint.url, client))
        else:
            log.warning("no adapter yet for %s gateway %s", endpoint.format, endpoint.id)
    return registry
