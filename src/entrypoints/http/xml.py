"""XML on the wire for the transaction endpoints, as a pure ASGI middleware.

Handlers, validation and the generated OpenAPI stay JSON-only: this layer
translates an XML request body into the equivalent JSON object before the app
sees it (`xml_decode`), and translates the app's JSON answer into XML when the
client asks for it (`xml_encode`, which also holds the Accept rule). Because it
runs below Litestar's request/response objects, the problems it produces itself
are `raw.Problem`s, the same RFC 9457 shape as `entrypoints.http.problems`.

Install with ``Litestar(middleware=[xml_middleware(settings.max_body_bytes)])``.
Put it first in the list so it is the outermost route middleware: nothing that
reads the body or caches request headers may run before it.
"""

from __future__ import annotations

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from entrypoints.http.paths import PAYMENTS, without_trailing_slash
from entrypoints.http.raw import (
    PROBLEM_JSON,
    Problem,
    bad_request,
    header_list,
    media_type,
    read_body,
    replay,
    send_response,
    with_body_headers,
)
from entrypoints.http.xml_decode import BadXml, xml_to_object
from entrypoints.http.xml_encode import PROBLEM_XML, XML, XmlResponder, prefers_xml, problem_xml

__all__ = ["PROBLEM_XML", "XML", "XmlMiddleware", "xml_middleware"]

_XML_REQUEST_TYPES = frozenset({"application/xml", "text/xml"})


class _Refused(Exception):
    """A problem the middleware answers itself, before the app runs."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


class _Disconnected(Exception):
    """The client went away while we were reading its body."""


class XmlMiddleware:
    """Accept XML request bodies and answer in XML on selected paths.

    Only HTTP requests whose path is in `paths` are touched. An XML body
    (`application/xml` or `text/xml`) is read whole (at most `max_body_bytes`),
    turned into the JSON object the handler expects and replayed to the app
    with JSON headers. When the client's Accept header prefers XML, the app's
    JSON or problem+json response is converted to XML. Everything else passes
    through unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: frozenset[str] = PAYMENTS,
        max_body_bytes: int = 65536,
    ) -> None:
        self.app = app
        self.paths = frozenset(without_trailing_slash(p) for p in paths)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if (
            scope["type"] != ScopeType.HTTP
            or without_trailing_slash(scope["path"]) not in self.paths
        ):
            await self.app(scope, receive, send)
            return
        http_scope: HTTPScope = scope  # narrowed by the type check above
        wants_xml = prefers_xml(header_list(http_scope["headers"], b"accept"))

        content_type = header_list(http_scope["headers"], b"content-type")
        if media_type(content_type) in _XML_REQUEST_TYPES:
            try:
                raw = await self._read_body(http_scope, receive)
                payload = msgspec.json.encode(xml_to_object(raw))
            except _Disconnected:
                return  # nobody left to answer
            except BadXml as exc:
                await _send_problem(send, bad_request(str(exc)), as_xml=wants_xml)
                return
            except _Refused as refused:
                await _send_problem(send, refused.problem, as_xml=wants_xml)
                return
            http_scope = _with_json_body(http_scope, len(payload))
            receive = replay(payload, receive)

        if wants_xml:
            send = XmlResponder(send)
        await self.app(http_scope, receive, send)

    async def _read_body(self, scope: HTTPScope, receive: Receive) -> bytes:
        """The whole request body, or a 413 as soon as it is known to be too big."""
        declared = header_list(scope["headers"], b"content-length")
        if declared:
            if not declared.strip().isdigit():
                raise _Refused(bad_request("invalid Content-Length"))
            # Refuse up front rather than reading bytes we will throw away.
            if int(declared) > self.max_body_bytes:
                raise _Refused(_too_large(self.max_body_bytes))
        body = await read_body(receive, self.max_body_bytes)
        if body.too_large:
            raise _Refused(_too_large(self.max_body_bytes))
        if body.disconnected:
            raise _Disconnected
        return body.data


def xml_middleware(max_body_bytes: int) -> DefineMiddleware:
    """`XmlMiddleware` for `/deposit` and `/withdrawal`, ready for `Litestar(middleware=...)`."""
    return DefineMiddleware(XmlMiddleware, max_body_bytes=max_body_bytes)


def _too_large(limit: int) -> Problem:
    return Problem(
        413, "payload-too-large", "Payload too large", f"request body exceeds {limit} bytes"
    )


def _with_json_body(scope: HTTPScope, length: int) -> HTTPScope:
    """A copy of `scope` whose headers describe the JSON body we replay."""
    # Copy, never mutate: the caller's scope is shared with outer middleware.
    new = scope.copy()
    new["headers"] = with_body_headers(scope["headers"], "application/json", length)
    return new


async def _send_problem(send: Send, problem: Problem, *, as_xml: bool) -> None:
    """Answer with one of the middleware's own problems, in the client's format."""
    if as_xml:
        body, media = problem_xml(problem.body()), PROBLEM_XML
    else:
        body, media = problem.encode(), PROBLEM_JSON
    headers = with_body_headers([], media, len(body))
    if problem.status == 413:
        # The rest of the body is still unread; the connection cannot be reused.
        headers.append((b"connection", b"close"))
    await send_response(send, problem.status, headers, body)
