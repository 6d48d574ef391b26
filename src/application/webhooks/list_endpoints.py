"""Read the registered webhook endpoints."""

from __future__ import annotations

from application.ports import WebhookEndpoint, WebhookEndpoints
from domain.errors import NotFound


class ListWebhookEndpoints:
    """Every endpoint with its status, oldest first."""

    def __init__(self, endpoints: WebhookEndpoints) -> None:
        self._endpoints = endpoints

    async def execute(self) -> list[WebhookEndpoint]:
        return await self._endpoints.list()


class GetWebhookEndpoint:
    """One endpoint; NotFound when unknown."""

    def __init__(self, endpoints: WebhookEndpoints) -> None:
        self._endpoints = endpoints

    async def execute(self, endpoint_id: str) -> WebhookEndpoint:
        endpoint = await self._endpoints.get(endpoint_id)
        if endpoint is None:
            raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
        return endpoint
