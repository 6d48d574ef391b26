"""Idempotency-Key handling for POST /deposit and /withdrawal, as ASGI middleware.

It sits outside the handlers so that every answer — success, decline, any
problem — is captured exactly as sent, stored once, and replayed byte for
byte. The rules live in application/idempotency.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from application.idempotency import fingerprint, is_decision, scope_of, valid_key
from application.ports import IdempotencyStore, StoredResponse
from domain.errors import ServiceUnavailable
from entrypoints.http.auth import ApiKeys, bearer_key
from entrypoints.http.dependencies import resolve

log = logging.getLogger(__name__)

PATHS = frozenset({"/deposit", "/withdrawal"})
HEADER = b"idempotency-key"
REPLAYED = (b"idempotent-replayed", b"true")


def _problem(status: int, code: str, title: str, detail: str) -> tuple[int, bytes]:
    body = {"type": f"/problems/{code}", "title": title, "status": status, "detail": detail}
    return status, json.dumps(body).encode()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, ttl_s: int, max_body_bytes: int) -> None:
        self._app = app
        self._ttl_s = ttl_s
        self._max_body = max_body_bytes

    async def __call__(self, asgi_scope: Scope, asgi_receive: Receive, asgi_send: Send) -> None:
        # Raw ASGI messages below: typed loosely on purpose (plain dicts).
        scope: Any = asgi_scope
        receive: Any = asgi_receive
        send: Any = asgi_send
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in PATHS:
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        api_key = bearer_key(headers.get(b"authorization", b"").decode("latin-1"))
        state = scope["app"].state
        keys: ApiKeys = state["api_keys"]
        if raw_key is None or api_key is None or keys.role_of(api_key) is None:
            # No key, or a caller the app will refuse anyway (401): nothing to remember.
            await self._app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not valid_key(key):
            await _send_problem(
                send,
                *_problem(
                    400,
                    "bad-request",
                    "Bad request",
                    "Idempotency-Key must be 1-255 printable ASCII characters",
                ),
            )
            return
        body = await _read_body(receive, self._max_body)
        if body is None:
            await _send_problem(
                send,
                *_problem(413, "payload-too-large", "Payload too large", "request body too large"),
            )
            return
        store: IdempotencyStore = await resolve(state["container"].idempotency_store)
        owner = scope_of(api_key)
        try:
            claim = await store.claim(
                owner, key, fingerprint("POST", scope["path"], body), self._ttl_s
            )
        except ServiceUnavailable:
            await _send_problem(
                send,
                *_problem(
                    503,
                    "service-unavailable",
                    "Service unavailable",
                    "the database is not reachable",
                ),
            )
            return
        if claim.outcome == "replay" and claim.response is not None:
            await _send_stored(send, claim.response)
            return
        if claim.outcome == "mismatch":
            await _send_problem(
                send,
                *_problem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency key reused",
                    "this Idempotency-Key was used with a different request",
                ),
            )
            return
        if claim.outcome == "in_flight":
            await _send_problem(
                send,
                *_problem(
                    409,
                    "idempotency-key-in-use",
                    "Request in progress",
                    "a request with this Idempotency-Key is still being processed; retry later",
                ),
            )
            return
        await self._run_and_remember(scope, body, send, store, owner, key)

    async def _run_and_remember(
        self, scope: Any, body: bytes, send: Any, store: IdempotencyStore, owner: str, key: str
    ) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []
        delivered = False

        async def replay_body() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        stored = False
        try:
            app: Any = self._app
            await app(scope, replay_body, capture)
            response_body = b"".join(chunks)
            status = int(start.get("status", 500))
            content_type = _header(start.get("headers", []), b"content-type") or "application/json"
            if is_decision(status, response_body):
                await store.complete(
                    owner, key, StoredResponse(status, content_type, response_body)
                )
                stored = True
        finally:
            if not stored:
                try:
                    await store.release(owner, key)
                except Exception:  # the key then simply waits for its expiry
                    log.warning("could not release idempotency key", exc_info=True)
        await send(start)
        await send({"type": "http.response.body", "body": response_body})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return None


async def _read_body(receive: Any, limit: int) -> bytes | None:
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


async def _send_stored(send: Any, response: StoredResponse) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [
                (b"content-type", response.content_type.encode("latin-1")),
                (b"content-length", str(len(response.body)).encode()),
                REPLAYED,
            ],
        }
    )
    await send({"type": "http.response.body", "body": response.body})


async def _send_problem(send: Any, status: int, body: bytes) -> None:
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


def idempotency_middleware(ttl_s: int, max_body_bytes: int) -> DefineMiddleware:
    return DefineMiddleware(IdempotencyMiddleware, ttl_s=ttl_s, max_body_bytes=max_body_bytes)
