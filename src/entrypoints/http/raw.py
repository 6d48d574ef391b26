"""Plain-ASGI helpers for the middlewares that answer before Litestar does.

Those middlewares (strict bodies, body limit, rate limit) see raw ASGI
messages; this is where they read a header and send a problem+json answer,
so the shape of an early answer is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

PROBLEM_JSON = "application/problem+json"


def header(scope: Any, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes) in an ASGI scope."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None


async def send_problem(
    send: Any,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """An RFC 9457 problem, sent as the whole response."""
    body = msgspec.json.encode(
        {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
