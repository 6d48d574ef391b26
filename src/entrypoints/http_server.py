"""The HTTP servers we run, with the same limits on slow and oversized clients.

An attack run held four sockets open for 80+ s by sending one header line
every 7 s (slowloris), and a 100 KB header was accepted. Both servers now
enforce, from the same settings:

- headers must arrive whole within ``header_timeout_s`` (else 408 and close);
- headers may not exceed ``max_header_bytes`` (else 431 and close);
- an idle keep-alive connection closes after ``keep_alive_timeout_s``;
- at most ``max_connections`` connections per process (uvicorn answers 503
  past it; granian holds the rest in the listen backlog).

uvicorn (``payments serve``, one process) has no header timeout or header
size limit with its httptools parser, so ``guarded_protocol`` adds them to
its protocol class. granian (``payments serve --server granian``, the
multi-process production server) has both natively (``HTTP1Settings``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from entrypoints.settings import Settings


def _raw_problem(status: int, reason: bytes, code: str, detail: str) -> bytes:
    """A whole HTTP/1.1 problem+json answer, written by the protocol itself."""
    body = msgspec.json.encode(
        {"type": f"/problems/{code}", "title": reason.decode(), "status": status, "detail": detail}
    )
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"content-type: application/problem+json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


REQUEST_TIMEOUT = _raw_problem(
    408, b"Request Timeout", "request-timeout", "the request headers took too long"
)
HEADERS_TOO_LARGE = _raw_problem(
    431,
    b"Request Header Fields Too Large",
    "headers-too-large",
    "the request headers are too large",
)


class _HeadersTooLarge(Exception):
    pass


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a header deadline and a header size cap."""

    header_timeout_s: float = 10.0
    max_header_bytes: int = 16 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_bytes = 0
        self._too_large = False
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_timer()  # the first request's headers are due from now

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers any parser error, ours included, with a bare 400.
        if self._too_large:
            self._refuse(HEADERS_TOO_LARGE)
        else:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._arm_header_timer()  # a keep-alive request: its headers are due from now

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.max_header_bytes:
            # Raising stops the parser; httptools wraps this in an
            # HttpParserError, which uvicorn passes to send_400_response.
            self._too_large = True
            raise _HeadersTooLarge

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        # Armed only while a request's headers are incomplete.
        self._header_timer = None
        self._refuse(REQUEST_TIMEOUT)

    def _refuse(self, answer: bytes) -> None:
        self._disarm_header_timer()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


def guarded_protocol(settings: Settings) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn, with this configuration's limits."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {
            "header_timeout_s": settings.header_timeout_s,
            "max_header_bytes": settings.max_header_bytes,
        },
    )


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(settings),
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_keep_alive=max(1, round(settings.keep_alive_timeout_s)),
        limit_concurrency=settings.max_connections,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: any local
        # process could then pose as any client (and escape the login throttle).
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies) or None,
        timeout_graceful_shutdown=20,
        log_config=None,  # keep our JSON, redacting handlers (entrypoints.logging_setup)
    )


def granian_server(settings: Settings, workers: int) -> Any:
    """granian serving ``entrypoints.asgi:create`` in ``workers`` processes."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    return Granian(
        "entrypoints.asgi:create",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=workers,
        # Connections beyond this many in flight per worker wait in the backlog.
        backpressure=max(1, settings.max_connections // workers),
        http1_settings=HTTP1Settings(
            header_read_timeout=round(settings.header_timeout_s * 1000),
            # hyper reads a request's head into this buffer: it caps the headers.
            max_buffer_size=settings.max_header_bytes,
        ),
    )
