"""The operator's webhooks page: platforms' endpoints, their status and recent deliveries."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from application.webhooks.list_deliveries import ListWebhookDeliveries
from application.webhooks.list_endpoints import ListWebhookEndpoints
from entrypoints.http.dashboard.pages import OperatorPages
from entrypoints.http.dashboard.rendering import page
from entrypoints.http.dependencies import from_container

RECENT = 10  # deliveries shown per endpoint


class WebhookPages(OperatorPages):
    """Read-only: changes go through the admin API (audited), see docs/operations.md."""

    dependencies = {
        **OperatorPages.dependencies,
        "list_webhook_endpoints": from_container("list_webhook_endpoints"),
        "list_webhook_deliveries": from_container("list_webhook_deliveries"),
    }

    @get("/webhooks")
    async def webhooks(
        self,
        request: Request[Any, Any, Any],
        list_webhook_endpoints: NamedDependency[ListWebhookEndpoints],
        list_webhook_deliveries: NamedDependency[ListWebhookDeliveries],
    ) -> Template:
        """Each endpoint with its status, failure streak and latest attempts."""
        endpoints = await list_webhook_endpoints.execute()
        rows = [(e, await list_webhook_deliveries.execute(e.id, RECENT)) for e in endpoints]
        return page(request, "webhooks.html", endpoints=rows)
