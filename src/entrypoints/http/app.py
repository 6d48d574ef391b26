"""Litestar application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from adapters.gateways.monitor import LOOP_LAG
from entrypoints.container import Container
from entrypoints.http.admission import admission_middleware
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.http.body_limit import body_drain_middleware
from entrypoints.http.controllers.callbacks import CallbackController
from entrypoints.http.controllers.gateways import GatewayController
from entrypoints.http.controllers.health import HealthController
from entrypoints.http.controllers.limits import MoneyRulesController
from entrypoints.http.controllers.reconciliation import ReconciliationController
from entrypoints.http.controllers.refunds import RefundController
from entrypoints.http.controllers.routing import RoutingController
from entrypoints.http.controllers.transactions import TransactionController
from entrypoints.http.controllers.users import UserController
from entrypoints.http.controllers.webhooks import WebhookController
from entrypoints.http.dashboard import dashboard_router, template_config
from entrypoints.http.dependencies import DEPENDENCIES, resolve
from entrypoints.http.idempotency import idempotency_middleware
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.rate_limit import rate_limit_middleware
from entrypoints.http.strict_body import strict_body_middleware
from entrypoints.http.swagger import swagger_assets_router, swagger_plugin
from entrypoints.http.timing import server_timing_middleware
from entrypoints.http.xml import xml_middleware
from entrypoints.sandbox.families import sandbox_routes
from entrypoints.sandbox.psp import Sandbox
from entrypoints.settings import Settings
from entrypoints.workers import start_workers, stop_workers

# Request metrics by route template (bounded label values), without /metrics itself.
PROMETHEUS = PrometheusConfig(
    app_name="payments",
    prefix="payments_http",
    group_path=True,
    exclude=["/metrics", "/health"],
)


class MetricsController(PrometheusController):
    """Prometheus text format; no API key (scrapers sit on the private network)."""

    path = "/metrics"
    include_in_schema = False


def create_app(
    settings: Settings,
    container: Container,
    sandbox: Sandbox | None = None,
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Litestar:
    """Build the app; resources start in its lifespan, never at import time."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        started = container.init_resources()
        if started is not None:
            await started
        # Build the singletons now so the first request does not pay for it.
        await resolve(container.gateways)
        await resolve(container.keyring)  # a bad key fails start-up, not a request
        LOOP_LAG.ensure_running()  # admission control reads it from the first request on
        workers = await start_workers(container, settings) if settings.run_workers else []
        if settings.database_url:
            # Every serving process hears routing changes, workers or not.
            listener = await resolve(container.routing_changes)
            workers.append(asyncio.create_task(listener.run_forever(), name="routing-changes"))
            refresher = await resolve(container.routing_stats_refresher)
            workers.append(asyncio.create_task(refresher.run_forever(), name="routing-stats"))
        try:
            yield
        finally:
            await stop_workers(workers)
            for close in on_shutdown:
                await close()
            stopped = container.shutdown_resources()
            if stopped is not None:
                await stopped

    route_handlers: list[type | Router] = [
        HealthController,
        TransactionController,
        RefundController,
        MoneyRulesController,
        UserController,
        GatewayController,
        RoutingController,
        CallbackController,
        ReconciliationController,
        WebhookController,
        MetricsController,
        dashboard_router(settings),  # operator pages at /dashboard, outside the OpenAPI schema
        swagger_assets_router(),  # Swagger UI's scripts, from a package (no CDN)
    ]
    if sandbox is not None:
        route_handlers += sandbox_routes(sandbox, admin_guard)

    return Litestar(
        route_handlers=route_handlers,
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        state=State(
            {
                "container": container,
                "api_keys": ApiKeys(settings.api_keys, settings.admin_api_keys),
                "settings": settings,
            }
        ),
        request_max_body_size=settings.max_body_bytes,
        template_config=template_config(),
        # First, so XML bodies become JSON before anything reads them.
        # Idempotency sees the JSON form of XML bodies, and replays pass back
        # through the XML layer, so one stored answer serves both formats.
        middleware=[
            # Outermost: an early answer (413, 401, a shed 503) waits until the
            # unread body is drained, so the client reads it instead of a reset.
            body_drain_middleware(settings.max_drain_bytes, settings.header_timeout_s),
            PROMETHEUS.middleware,
            # Before any work and before idempotency records anything.
            rate_limit_middleware(settings.rate_limit_per_s, settings.rate_limit_burst),
            # Right inside the metrics, so shed requests are counted as 503s
            # yet cost nothing else (see admission.py).
            admission_middleware(
                settings.payment_admission_limit,
                settings.callback_admission_limit,
                settings.admission_max_lag_s,
                LOOP_LAG.lag_s,
            ),
            server_timing_middleware(),
            # Before anything reads a body: 415 for other content types, 400
            # for a JSON object that repeats a key (see strict_body.py).
            strict_body_middleware(settings.max_body_bytes),
            xml_middleware(settings.max_body_bytes),
            idempotency_middleware(settings.idempotency_ttl_s, settings.max_body_bytes),
        ],
        openapi_config=OpenAPIConfig(
            title="Payment gateway integration service",
            version="0.1.0",
            description=(
                "Deposits and withdrawals routed to payment gateways by country, "
                "with fallback, a wallet ledger, signed callbacks and Kafka events."
            ),
            path="/schema",
            render_plugins=[swagger_plugin()],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")
                }
            ),
            security=[{"apiKey": []}],
        ),
        debug=False,
        # Logging is configured once by the CLI (JSON, redaction); Litestar must
        # not replace the root handlers with its own.
        logging_config=None,
    )
