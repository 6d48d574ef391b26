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

from entrypoints.http.paths import NOT_API, is_callback
from entrypoints.http.raw import (
    Problem,
    bad_request,
    header,
    media_type,
    read_body,
    replay,
    send_problem,
)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON = "application/json"
ACCEPTED = frozenset({JSON, "application/xml", "text/xml"})


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
            or http["path"].startswith(NOT_API)
        ):
            await self._app(scope, receive, send)
            return
        content_type = header(http["headers"], b"content-type")
        if content_type is None and header(http["headers"], b"content-length") == b"0":
            # No body at all (POST /webhook-deliveries/{id}/retry): no type to police.
            await self._app(scope, receive, send)
            return
        media = media_type((content_type or b"").decode("latin-1"))
        if media not in ACCEPTED and not is_callback(http["path"]):
            shown = media or "none"
            detail = (
                f"Content-Type {shown!r} is not accepted: send application/json "
                "(or application/xml)"
            )
            await send_problem(
                send, Problem(415, "unsupported-media-type", "Unsupported media type", detail)
            )
            return
        if media != JSON:
            await self._app(scope, receive, send)
            return
        # Read up to one chunk past the limit: a larger body passes on to get its
        # 413 from the app, a disconnect is the app's to see.
        body = await read_body(receive, self._max)
        if body.complete and (key := repeated_key(body.data)) is not None:
            await send_problem(send, bad_request(f"the JSON body repeats the key {key!r}"))
            return
        await self._app(scope, replay(body.data, receive, more_body=not body.complete), send)


def strict_body_middleware(max_body_bytes: int) -> DefineMiddleware:
    return DefineMiddleware(StrictBodyMiddleware, max_body_bytes=max_body_bytes)
