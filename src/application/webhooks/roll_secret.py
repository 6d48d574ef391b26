"""Roll a webhook endpoint's signing secret (Stripe's "roll secret")."""

from __future__ import annotations

from application.ports import Clock, UnitOfWorkFactory, WebhookEndpoints
from application.webhooks.audit import audit
from application.webhooks.create_endpoint import CreatedEndpoint, new_secret
from domain.errors import NotFound
from domain.webhooks import DEFAULT_SECRET_OVERLAP_HOURS, previous_secret_expiry


class RollWebhookSecret:
    """Give the endpoint a fresh secret, shown once in the answer.

    The secret it replaces keeps signing next to the new one for
    ``overlap_hours`` (every delivery carries both signatures meanwhile), so
    the platform can switch its verifier without losing an event; 0 drops it
    at once. A roll during an overlap drops the older secret.
    """

    def __init__(self, endpoints: WebhookEndpoints, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._endpoints = endpoints
        self._uow = uow
        self._clock = clock

    async def execute(
        self, endpoint_id: str, overlap_hours: int = DEFAULT_SECRET_OVERLAP_HOURS
    ) -> CreatedEndpoint:
        now = self._clock.now()
        expires_at = previous_secret_expiry(now, overlap_hours)
        secret = new_secret()
        rolled = await self._endpoints.roll_secret(endpoint_id, secret, expires_at, now)
        if rolled is None:
            raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
        await audit(
            self._uow,
            "webhook_endpoint.secret_rolled",
            endpoint_id,
            {"previous_secret_expires_at": None if expires_at is None else expires_at.isoformat()},
        )
        return CreatedEndpoint(rolled, secret)
