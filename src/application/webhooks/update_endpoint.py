"""Change a webhook endpoint: URL, events, description, or enable/disable it."""

from __future__ import annotations

from application.ports import (
    Clock,
    EndpointChanges,
    UnitOfWorkFactory,
    WebhookEndpoint,
    WebhookEndpoints,
    WebhookTargets,
)
from application.webhooks.audit import audit
from application.webhooks.create_endpoint import check_description
from domain.errors import InvalidInput, NotFound
from domain.webhooks import parse_events, parse_url

STATUSES = ("enabled", "disabled")


class UpdateWebhookEndpoint:
    """Apply a partial change; a new URL passes the same checks as at creation.

    Re-enabling an endpoint that was disabled for failing clears its failure
    streak: its queued deliveries are sent again from the next worker pass.
    """

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        targets: WebhookTargets,
        uow: UnitOfWorkFactory,
        clock: Clock,
    ) -> None:
        self._endpoints = endpoints
        self._targets = targets
        self._uow = uow
        self._clock = clock

    async def execute(self, endpoint_id: str, changes: EndpointChanges) -> WebhookEndpoint:
        if changes.url is not None:
            parse_url(changes.url)
        if changes.events is not None:
            changes = EndpointChanges(
                changes.url, parse_events(changes.events), changes.description, changes.status
            )
        if changes.description is not None:
            check_description(changes.description)
        if changes.status is not None and changes.status not in STATUSES:
            raise InvalidInput("status must be 'enabled' or 'disabled'")
        if changes.url is not None:
            await self._targets.check(changes.url)
        updated = await self._endpoints.update(endpoint_id, changes, self._clock.now())
        if updated is None:
            raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
        details = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in (
                ("url", changes.url),
                ("events", changes.events),
                ("description", changes.description),
                ("status", changes.status),
            )
            if v is not None
        }
        await audit(self._uow, "webhook_endpoint.updated", endpoint_id, details)
        return updated
