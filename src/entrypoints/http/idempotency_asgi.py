"""Raw ASGI pieces of the idempotency middleware: its answers and body reading."""

from __future__ import annotations

import json
from typing import Any

from application.ports import StoredResponse

REPLAYED = (b"idempotent-replayed", b"true")
NO_STORE = (b"cache-control", b"no-store")  # answers carry transactions and money


def _problem(status: int, code: str, title: str, detail: str) -> tuple[int, bytes]:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    return status, json.dumps(body).encode()


BAD_KEY = _problem(
    400, "bad-request", "Bad request", "Idempotency-Key must be 1-255 printable ASCII characters"
)
TOO_LARGE = _problem(413, "payload-too-large", "Payload too large", "request body too large")
REUSED = _problem(
    422,
    "idempotency-key-reused",
    "Idempotency key reused",
    "this Idempotency-Key was used with a different request",
)
IN_USE = _problem(
    409,
    "idempotency-key-in-use",
    "Request in progress",
    "a request with this Idempotency-Key is still being processed; retry later",
)
UNAVAILABLE = _problem(
    503, "service-unavailable", "Service unavailable", "the database is not reachable"
)


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return None


async def read_body(receive: Any, limit: int) -> bytes | None:
    """The whole body, or None as soon as it exceeds ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_stored(send: Any, response: StoredResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (b"content-type", response.content_type.encode("latin-1")),
                (b"content-length", str(len(response.body)).encode()),
                NO_STORE,
                REPLAYED,
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def send_problem(send: Any, problem: tuple[int, bytes]) -> None:
    status, body = problem
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
