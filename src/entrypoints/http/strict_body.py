"""Strict request bodies at the edge (CONTRACT.md "Strict input").

On every API route that takes a body (POST, PUT, PATCH; the dashboard's
forms and the sandbox PSPs are not ours to police here):

- a ``Content-Type`` other than ``application/json`` (any charset) or
  ``application/xml`` / ``text/xml`` is refused with 415 before the body is
  read: JSON sent as ``text/plain``, a form or multipart was accepted once.
  Gateway callbacks (``/callback/{id}``) are exempt from this one: a PSP
  chooses its own headers, the signature is what authenticates them, and
  their verifier reads the body by the gateway's family;
- a JSON object with a repeated key is refused with 400, at any depth:
  ``{"amount": "1.23", ..., "amount": "999.00"}`` created a 999.00 deposit,
  because decoders keep the last value. The body is read (bounded by the
  body limit; a larger one passes on to get its 413) and replayed to the app.

Nothing is recorded for a refused request.
"""

from __future__ import annotations

import json
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.raw import header, send_problem

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"
ACCEPTED = frozenset({JSON, "application/xml", "text/xml"})
EXEMPT_PREFIXES = ("/dashboard", "/sandbox")
CALLBACKS = "/callback/"


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen[key] = value
    return seen


def repeated_key(body: bytes) -> str | None:
    """The first key a JSON object of ``body`` repeats, or None (also for non-JSON)."""
    try:
        json.loads(body, object_pairs_hook=_no_repeats)
    except _RepeatedKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None  # not JSON at all: the app answers its own 400
    return None


class StrictBodyMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self._app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http: Any = scope
        if (
            http["type"] != "http"
            or http["method"] not in BODY_METHODS
            or http["path"].startswith(EXEMPT_PREFIXES)
        ):
            await self._app(scope, receive, send)
            return
        media = _media_type(http)
        if media not in ACCEPTED and not http["path"].startswith(CALLBACKS):
            shown = media or "none"
            await send_problem(
                send,
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"Content-Type {shown!r} is not accepted: send application/json "
                "(or application/xml)",
            )
            return
        if media != JSON:
            await self._app(scope, receive, send)
            return
        body, complete = await self._read(receive)
        if complete and (key := repeated_key(body)) is not None:
            await send_problem(
                send, 400, "bad-request", "Bad request", f"the JSON body repeats the key {key!r}"
            )
            return
        await self._app(scope, _replay(body, complete, receive), send)

    async def _read(self, receive: Any) -> tuple[bytes, bool]:
        """The body up to one byte past the limit; whether it is all of it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), False  # a disconnect: let the app see it
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True
            if size > self._max:
                return b"".join(chunks), False  # too big: the app answers 413


def _replay(body: bytes, complete: bool, receive: Receive) -> Any:
    """Hand the app what was read, then the rest of the stream (if any)."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replay


def _media_type(scope: Any) -> str:
    value = header(scope, b"content-type") or b""
    return value.decode("latin-1").partition(";")[0].strip().lower()


def strict_body_middleware(max_body_bytes: int) -> DefineMiddleware:
    return DefineMiddleware(StrictBodyMiddleware, max_body_bytes=max_body_bytes)
