"""Register a platform's webhook endpoint."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from application.ports import (
    Clock,
    IdGenerator,
    UnitOfWorkFactory,
    WebhookEndpoint,
    WebhookEndpoints,
    WebhookTargets,
)
from application.webhooks.audit import audit
from domain.errors import InvalidInput
from domain.webhooks import MAX_DESCRIPTION, parse_events, parse_url


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once, in the answer to the creation


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description must be at most {MAX_DESCRIPTION} characters")
    return description


class CreateWebhookEndpoint:
    """Validate the URL (syntax, then the target policy) and the event filter,
    store the endpoint with a fresh signing secret, audit it."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        targets: WebhookTargets,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
    ) -> None:
        self._endpoints = endpoints
        self._targets = targets
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def execute(self, url: str, events: Sequence[str], description: str) -> CreatedEndpoint:
        url = parse_url(url)
        filter_ = parse_events(events)
        check_description(description)
        await self._targets.check(url)
        now = self._clock.now()
        endpoint = WebhookEndpoint(
            id=self._ids.new_id(),
            url=url,
            events=filter_,
            description=description,
            status="enabled",
            created_at=now,
            updated_at=now,
        )
        secret = new_secret()
        await self._endpoints.create(endpoint, secret)
        await audit(
            self._uow,
            "webhook_endpoint.created",
            endpoint.id,
            {"url": url, "events": list(filter_)},
        )
        return CreatedEndpoint(endpoint, secret)
