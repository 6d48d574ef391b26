"""Remove a webhook endpoint and its queue."""

from __future__ import annotations

from application.ports import UnitOfWorkFactory, WebhookEndpoints
from application.webhooks.audit import audit
from domain.errors import NotFound


class DeleteWebhookEndpoint:
    """Delete the endpoint; its pending deliveries go with it. Audited."""

    def __init__(self, endpoints: WebhookEndpoints, uow: UnitOfWorkFactory) -> None:
        self._endpoints = endpoints
        self._uow = uow

    async def execute(self, endpoint_id: str) -> None:
        endpoint = await self._endpoints.get(endpoint_id)
        if endpoint is None or not await self._endpoints.delete(endpoint_id):
            raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
        await audit(self._uow, "webhook_endpoint.deleted", endpoint_id, {"url": endpoint.url})
