"""Answer early without resetting the client: drain the unread body first.

When the app answers before it has read the whole request body (413 for a
body over the limit, 401 or 415 before reading, a shed 503), the server
would close the connection with bytes still arriving, and the kernel turns
that into a TCP reset: a client still sending (Python's urllib posting
3 MiB, say) sees "connection reset" instead of the answer. So before the
answer starts, the rest of the body is read and thrown away, up to
``max_drain_bytes`` and ``drain_timeout_s``; past either bound the
connection is given up (a client that big or that slow is not owed more).

Outermost middleware: every early answer, whoever sends it, passes here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodyDrainMiddleware:
    def __init__(self, app: ASGIApp, *, max_drain_bytes: int, drain_timeout_s: float) -> None:
        self._app = app
        self._max = max_drain_bytes
        self._timeout = drain_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        done = False  # the whole body (or a disconnect) has been received

        async def tracking_receive() -> Any:
            nonlocal done
            message: Any = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        async def draining_send(message: Any) -> None:
            nonlocal done
            if message["type"] == "http.response.start" and not done:
                done = True
                await self._drain(receive, scope)
            await send(message)

        await self._app(scope, tracking_receive, draining_send)

    async def _drain(self, receive: Any, scope: Any) -> None:
        drained = 0
        try:
            async with asyncio.timeout(self._timeout):
                while drained <= self._max:
                    message = await receive()
                    if message["type"] != "http.request":
                        return
                    drained += len(message.get("body", b""))
                    if not message.get("more_body", False):
                        return
        except TimeoutError:
            pass
        log.info(
            "gave up draining a request body before an early answer",
            extra={"path": scope.get("path"), "drained_bytes": drained},
        )


def body_drain_middleware(max_drain_bytes: int, drain_timeout_s: float) -> DefineMiddleware:
    return DefineMiddleware(
        BodyDrainMiddleware, max_drain_bytes=max_drain_bytes, drain_timeout_s=drain_timeout_s
    )
