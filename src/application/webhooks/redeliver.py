"""Send one event to one endpoint again, now (operator action)."""

from __future__ import annotations

from application.ports import Clock, DeliveryRecord, UnitOfWorkFactory, WebhookEndpoints
from application.webhooks.audit import audit
from domain.errors import IllegalTransition, NotFound


class RedeliverWebhook:
    """Queue a new attempt of a delivery's event, due now, with a fresh retry window.

    Refused (409) while the endpoint is disabled: enable it first, or the
    attempt would only wait in the queue.
    """

    def __init__(self, endpoints: WebhookEndpoints, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._endpoints = endpoints
        self._uow = uow
        self._clock = clock

    async def execute(self, delivery_id: int) -> DeliveryRecord:
        delivery = await self._endpoints.get_delivery(delivery_id)
        if delivery is None:
            raise NotFound(f"webhook delivery {delivery_id} does not exist")
        endpoint = await self._endpoints.get(delivery.endpoint_id)
        if endpoint is not None and endpoint.status != "enabled":
            raise IllegalTransition(
                f"webhook endpoint {endpoint.id} is disabled; enable it before redelivering"
            )
        queued = await self._endpoints.requeue(delivery_id, self._clock.now())
        if queued is None:
            raise NotFound(f"webhook delivery {delivery_id} does not exist")
        await audit(
            self._uow,
            "webhook_delivery.retried",
            delivery.endpoint_id,
            {
                "delivery_id": delivery_id,
                "event_id": delivery.event_id,
                "new_delivery_id": queued.id,
            },
        )
        return queued
