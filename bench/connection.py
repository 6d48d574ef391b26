"""The load generator's HTTP/1.1 client: one keep-alive connection on asyncio protocols.

httptools' C parser reads the answers; of each answer only the status, the
``Server-Timing`` header and the body are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

import httptools

from bench.loadspec import RequestTemplate


def parse_server_timing(value: bytes) -> tuple[float, float, float]:
    """``gateway;dur=50.1, app;dur=2.3, total;dur=52.4`` → (50.1, 2.3, 52.4); NaN if absent."""
    found = {b"gateway": math.nan, b"app": math.nan, b"total": math.nan}
    for metric in value.split(b","):
        name, _, params = metric.strip().partition(b";")
        for param in params.split(b";"):
            key, _, number = param.strip().partition(b"=")
            if key == b"dur" and name in found:
                with contextlib.suppress(ValueError):
                    found[name] = float(number)
    return found[b"gateway"], found[b"app"], found[b"total"]


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None
        self._timing = b""
        self._body: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.reusable = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        self._fail(exc or ConnectionResetError("connection closed"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._timing = b""
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"server-timing":
            self._timing = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.reusable and self._parser.should_keep_alive()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._parser.get_status_code(), self._timing, b"".join(self._body)))

    def _fail(self, exc: BaseException) -> None:
        self.reusable = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        assert self.transport is not None
        self._waiter = self._loop.create_future()
        self.transport.write(data)
        return await self._waiter

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


def encode(template: RequestTemplate, host: str, port: int) -> tuple[bytes, bytes]:
    """Head (without the blank line) and body of a template, ready to send."""
    lines = [f"{template.method} {template.path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in template.headers]
    if template.body or template.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(template.body)}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1"), template.body
