"""An endpoint's delivery attempts, for operators."""

from __future__ import annotations

from application.ports import DeliveryRecord, WebhookEndpoints
from domain.errors import NotFound


class ListWebhookDeliveries:
    """One row per attempt (and per queued try), newest first."""

    def __init__(self, endpoints: WebhookEndpoints) -> None:
        self._endpoints = endpoints

    async def execute(self, endpoint_id: str, limit: int = 100) -> list[DeliveryRecord]:
        if await self._endpoints.get(endpoint_id) is None:
            raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
        return await self._endpoints.deliveries(endpoint_id, limit)
