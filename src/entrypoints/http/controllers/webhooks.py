"""Webhook endpoints: platforms hear about every transaction change (admin key)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import Body, PathParameter, QueryParameter

from application.ports import EndpointChanges
from application.webhooks.create_endpoint import CreateWebhookEndpoint
from application.webhooks.delete_endpoint import DeleteWebhookEndpoint
from application.webhooks.list_deliveries import ListWebhookDeliveries
from application.webhooks.list_endpoints import GetWebhookEndpoint, ListWebhookEndpoints
from application.webhooks.redeliver import RedeliverWebhook
from application.webhooks.roll_secret import RollWebhookSecret
from application.webhooks.update_endpoint import UpdateWebhookEndpoint
from entrypoints.http.auth import admin_guard
from entrypoints.http.dependencies import from_container
from entrypoints.http.params import digits, integer_schema
from entrypoints.http.schemas import problem_responses
from entrypoints.http.strict_json import StrictJsonRequest
from entrypoints.http.webhook_schemas import (
    CreatedWebhookEndpointOut,
    RollSecretBody,
    WebhookDeliveryOut,
    WebhookEndpointBody,
    WebhookEndpointOut,
    WebhookEndpointPatch,
    created_out,
    delivery_out,
    endpoint_out,
)

EndpointIdPath = Annotated[
    str,
    PathParameter(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="the endpoint's id (a UUID)",
    ),
]
DeliveryIdPath = Annotated[str, PathParameter(schema_extra=integer_schema())]
Limit = Annotated[
    str | None, QueryParameter(schema_extra=integer_schema(500), description="at most 500")
]

CREATE_EXAMPLES = [
    Example(
        summary="completed and failed payments, for the core ledger",
        value={
            "url": "https://platform.example/payments-events",
            "events": ["transaction.completed", "transaction.failed"],
            "description": "core ledger",
        },
    ),
    Example(
        summary="every event",
        value={"url": "https://platform.example/all-events", "events": ["*"]},
    ),
]
ROLL_EXAMPLES = [
    Example(summary="the old secret signs too for a day", value={"expire_previous_in_hours": 24}),
    Example(summary="the old secret leaked: drop it now", value={"expire_previous_in_hours": 0}),
]
PATCH_EXAMPLES = [
    Example(summary="enable it again after an outage", value={"status": "enabled"}),
    Example(summary="hear every event", value={"events": ["*"]}),
]

_USE_CASES = (
    "create_webhook_endpoint",
    "list_webhook_endpoints",
    "get_webhook_endpoint",
    "update_webhook_endpoint",
    "delete_webhook_endpoint",
    "list_webhook_deliveries",
    "redeliver_webhook",
    "roll_webhook_secret",
)


class WebhookController(Controller):
    path = "/"
    tags = ["webhooks"]
    guards = [admin_guard]
    request_class = StrictJsonRequest
    dependencies = {name: from_container(name) for name in _USE_CASES}

    @post(
        "/webhook-endpoints",
        operation_id="createWebhookEndpoint",
        responses=problem_responses(400, 401, 403, 422),
    )
    async def create(
        self,
        data: Annotated[WebhookEndpointBody, Body(examples=CREATE_EXAMPLES)],
        create_webhook_endpoint: NamedDependency[CreateWebhookEndpoint],
    ) -> CreatedWebhookEndpointOut:
        """Register an endpoint; the answer carries its signing `secret`, shown only here.

        Each event is POSTed as JSON with `Payments-Event-Id` and
        `Payments-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
        (Stripe's scheme). 2xx is delivered; anything else is retried with
        backoff for `PAYMENTS_WEBHOOK_RETRY_HOURS`; failing that long disables it.
        """
        created = await create_webhook_endpoint.execute(data.url, data.events, data.description)
        return created_out(created.endpoint, created.secret)

    @get(
        "/webhook-endpoints",
        operation_id="listWebhookEndpoints",
        responses=problem_responses(401, 403),
    )
    async def list_endpoints(
        self, list_webhook_endpoints: NamedDependency[ListWebhookEndpoints]
    ) -> list[WebhookEndpointOut]:
        """Every endpoint with its status (`enabled` or `disabled`), oldest first."""
        return [endpoint_out(e) for e in await list_webhook_endpoints.execute()]

    @get(
        "/webhook-endpoints/{endpoint_id:str}",
        operation_id="getWebhookEndpoint",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def get_endpoint(
        self,
        endpoint_id: EndpointIdPath,
        get_webhook_endpoint: NamedDependency[GetWebhookEndpoint],
    ) -> WebhookEndpointOut:
        """One endpoint (never its secret)."""
        return endpoint_out(await get_webhook_endpoint.execute(endpoint_id))

    @patch(
        "/webhook-endpoints/{endpoint_id:str}",
        operation_id="updateWebhookEndpoint",
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def update(
        self,
        endpoint_id: EndpointIdPath,
        data: Annotated[WebhookEndpointPatch, Body(examples=PATCH_EXAMPLES)],
        update_webhook_endpoint: NamedDependency[UpdateWebhookEndpoint],
    ) -> WebhookEndpointOut:
        """Change url, events, description or `status`; re-enabling resumes its queue."""
        changes = EndpointChanges(
            url=data.url,
            events=None if data.events is None else tuple(data.events),
            description=data.description,
            status=data.status,
        )
        return endpoint_out(await update_webhook_endpoint.execute(endpoint_id, changes))

    @delete(
        "/webhook-endpoints/{endpoint_id:str}",
        operation_id="deleteWebhookEndpoint",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def delete_endpoint(
        self,
        endpoint_id: EndpointIdPath,
        delete_webhook_endpoint: NamedDependency[DeleteWebhookEndpoint],
    ) -> None:
        """Remove the endpoint and its queued deliveries."""
        await delete_webhook_endpoint.execute(endpoint_id)

    @post(
        "/webhook-endpoints/{endpoint_id:str}/secret",
        operation_id="rollWebhookSecret",
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 422),
    )
    async def roll_secret(
        self,
        endpoint_id: EndpointIdPath,
        roll_webhook_secret: NamedDependency[RollWebhookSecret],
        data: Annotated[RollSecretBody | None, Body(examples=ROLL_EXAMPLES)] = None,
    ) -> CreatedWebhookEndpointOut:
        """Roll the signing secret: the new `secret` is shown only in this answer.

        The replaced secret keeps signing for `expire_previous_in_hours`
        (default 24, at most 168): each delivery then carries two `v1`
        signatures, one per secret, so the platform can switch its verifier
        without losing an event. `0` drops the old secret at once.
        """
        body = data or RollSecretBody()
        rolled = await roll_webhook_secret.execute(endpoint_id, body.expire_previous_in_hours)
        return created_out(rolled.endpoint, rolled.secret)

    @get(
        "/webhook-endpoints/{endpoint_id:str}/deliveries",
        operation_id="listWebhookDeliveries",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def deliveries(
        self,
        endpoint_id: EndpointIdPath,
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
        limit: Limit = None,
    ) -> list[WebhookDeliveryOut]:
        """One row per delivery attempt (and per queued try), newest first."""
        count = 100 if limit is None else digits(limit, "limit", maximum=500)
        return [delivery_out(d) for d in await list_webhook_deliveries.execute(endpoint_id, count)]

    @post(
        "/webhook-deliveries/{delivery_id:str}/retry",
        operation_id="retryWebhookDelivery",
        status_code=202,
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def retry(
        self, delivery_id: DeliveryIdPath, redeliver_webhook: NamedDependency[RedeliverWebhook]
    ) -> WebhookDeliveryOut:
        """Send that delivery's event to its endpoint again, now (a new attempt row)."""
        queued = await redeliver_webhook.execute(digits(delivery_id, "delivery_id"))
        return delivery_out(queued)
