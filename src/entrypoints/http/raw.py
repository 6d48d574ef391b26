"""Plain-ASGI helpers for the middlewares that answer before Litestar does.

Those middlewares (strict bodies, XML, idempotency, admission, rate limit)
see raw ASGI messages; this is where they read a header or a body and send
an answer, so the shape of an early answer, and of every problem+json body
(`entrypoints.http.problems` builds its own with `problem_body` too), is
written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

PROBLEM_JSON = "application/problem+json"

Headers = Iterable[tuple[bytes, bytes]]
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"transfer-encoding"})


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The members of an RFC 9457 problem; ``extra`` members that are None are left out."""
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem a middleware answers with itself."""

    status: int
    code: str
    title: str
    detail: str

    def body(self) -> dict[str, Any]:
        return problem_body(self.status, self.code, self.title, self.detail)

    def encode(self) -> bytes:
        return msgspec.json.encode(self.body())


def bad_request(detail: str) -> Problem:
    return Problem(400, "bad-request", "Bad request", detail)


def header(headers: Headers, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes), or None."""
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return None


def header_list(headers: Headers, name: bytes) -> str:
    """All values of a header, comma-joined as one list ("" when absent)."""
    return ",".join(v.decode("latin-1") for k, v in headers if k.lower() == name)


def media_type(content_type: str) -> str:
    """``application/json`` of ``Application/JSON; charset=utf-8``."""
    return content_type.partition(";")[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Body:
    """What `read_body` got: all of the body, or as much as it read before stopping."""

    data: bytes
    complete: bool  # the client sent all of it
    too_large: bool  # more than the limit (reading stopped as soon as that was known)

    @property
    def disconnected(self) -> bool:
        return not self.complete and not self.too_large


async def read_body(receive: Any, limit: int) -> Body:
    """Read the request body, stopping at the first chunk that takes it past ``limit``.

    Checked per chunk: a chunked upload has no Content-Length to trust.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the client went away
            return Body(b"".join(chunks), complete=False, too_large=False)
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return Body(b"".join(chunks), complete=True, too_large=size > limit)
        if size > limit:
            return Body(b"".join(chunks), complete=False, too_large=True)


def replay(body: bytes, receive: Any, *, more_body: bool = False) -> Any:
    """A ``receive`` that hands the app ``body`` first, then defers to the real one."""
    sent = False

    async def replaying() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replaying


def with_body_headers(headers: Headers, media: str, length: int) -> list[tuple[bytes, bytes]]:
    """``headers`` describing a new body: its Content-Type and Content-Length replaced."""
    kept = [(k, v) for k, v in headers if k.lower() not in _BODY_HEADERS]
    kept.append((b"content-type", media.encode("latin-1")))
    kept.append((b"content-length", str(length).encode("ascii")))
    return kept


async def send_response(send: Any, status: int, headers: Headers, body: bytes) -> None:
    """A whole response: the start message, then the body in one message."""
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def send_problem(send: Any, problem: Problem, headers: Headers = ()) -> None:
    """An RFC 9457 problem, sent as the whole response."""
    body = problem.encode()
    await send_response(send, problem.status, problem_headers(len(body), headers), body)


def problem_headers(length: int, extra: Headers = ()) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(length).encode()),
        *extra,
    ]
