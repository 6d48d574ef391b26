"""Litestar application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from entrypoints.container import Container
from entrypoints.http.auth import ApiKeys, admin_guard
from entrypoints.http.controllers.gateways import GatewayController
from entrypoints.http.controllers.health import HealthController
from entrypoints.http.controllers.transactions import TransactionController
from entrypoints.http.controllers.users import UserController
from entrypoints.http.dependencies import DEPENDENCIES, resolve
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.xml import xml_middleware
from entrypoints.sandbox.app import sandbox_controller
from entrypoints.sandbox.psp import Sandbox
from entrypoints.sandbox.soap import soap_controller
from entrypoints.settings import Settings


def create_app(
    settings: Settings, container: Container, sandbox: Sandbox | None = None
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
        background = []
        if settings.health_interval_s > 0:
            checker = await resolve(container.health_checker)
            background.append(asyncio.create_task(checker.run_forever(), name="health-checker"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            stopped = container.shutdown_resources()
            if stopped is not None:
                await stopped

    route_handlers: list[type] = [
        HealthController,
        TransactionController,
        UserController,
        GatewayController,
    ]
    if sandbox is not None:
        route_handlers += [sandbox_controller(sandbox, admin_guard), soap_controller(sandbox)]

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
        # First, so XML bodies become JSON before anything reads them.
        middleware=[xml_middleware(settings.max_body_bytes)],
        openapi_config=OpenAPIConfig(
            title="Payment gateway integration service",
            version="0.1.0",
            description=(
                "Deposits and withdrawals routed to payment gateways by country, "
                "with fallback, a wallet ledger, signed callbacks and Kafka events."
            ),
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/swagger")],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")
                }
            ),
            security=[{"apiKey": []}],
        ),
        debug=False,
    )
