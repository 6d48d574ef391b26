"""``Server-Timing: gateway;dur=…, app;dur=…, total;dur=…`` on every HTTP answer.

``gateway`` is time spent waiting on payment gateways, ``app`` the rest: our
own orchestration overhead. Clients and the benchmark read it; browsers show
it in their network panel.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from application.timing import start_request


class ServerTimingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        gateway = start_request()
        raw_send: Any = send

        async def send_with_timing(message: Any) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                value = (
                    f"gateway;dur={gateway[0]:.1f}, app;dur={total - gateway[0]:.1f}, "
                    f"total;dur={total:.1f}"
                )
                message = {
                    **message,
                    "headers": [*message["headers"], (b"server-timing", value.encode())],
                }
            await raw_send(message)

        await self._app(scope, receive, send_with_timing)


def server_timing_middleware() -> DefineMiddleware:
    return DefineMiddleware(ServerTimingMiddleware)
