"""XML on the wire for the transaction endpoints, as a pure ASGI middleware.

Handlers, validation and the generated OpenAPI stay JSON-only: this layer
translates an XML request body into the equivalent JSON object before the app
sees it, and translates the app's JSON answer into XML when the client asks for
it. Because it runs below Litestar's request/response objects, the problems it
produces itself are written by hand in the same RFC 9457 shape as
`entrypoints.http.problems`.

Accept rule (see `_prefers_xml`): the response is XML when `application/xml`,
`text/xml` or `application/problem+xml` is listed with a q-value strictly
greater than that of `application/json` / `application/problem+json` (0 when
absent). Wildcards (`*/*`, `application/*`) count for neither side, so JSON
stays the default. A malformed or out-of-range q counts as 0.

Install with ``Litestar(middleware=[xml_middleware(settings.max_body_bytes)])``.
Put it first in the list so it is the outermost route middleware: nothing that
reads the body or caches request headers may run before it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any
from xml.parsers.expat import ExpatError

import msgspec
import xmltodict
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import (
    ASGIApp,
    HTTPRequestEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from entrypoints.http.raw import PROBLEM_JSON

__all__ = ["PROBLEM_XML", "XML", "XmlMiddleware", "xml_middleware"]

XML = "application/xml"
PROBLEM_XML = "application/problem+xml"
# RFC 9457 keeps RFC 7807's namespace for the XML form of a problem.
PROBLEM_NAMESPACE = "urn:ietf:rfc:7807"

_XML_REQUEST_TYPES = frozenset({"application/xml", "text/xml"})
_XML_ACCEPT_TYPES = frozenset({"application/xml", "text/xml", PROBLEM_XML})
_JSON_TYPES = frozenset({"application/json", PROBLEM_JSON})
_DEFAULT_PATHS = frozenset({"/deposit", "/withdrawal"})

ROOT = "transaction"
NESTED = frozenset({"destination"})
_USER_ID = re.compile(r"[0-9]{1,19}")
# Element names we emit verbatim; anything else becomes <entry key="...">.
# Names starting with "xml" are reserved by the XML spec.
_XML_NAME = re.compile(r"(?!(?i:xml))[A-Za-z_][A-Za-z0-9._-]*")
# Characters XML 1.0 cannot carry at all, not even escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"transfer-encoding"})


class _Problem(Exception):
    """A problem the middleware answers itself, before the app runs."""

    def __init__(self, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail

    def body(self) -> dict[str, Any]:
        # Same members as entrypoints.http.problems.problem().
        return {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }


def _bad_request(detail: str) -> _Problem:
    return _Problem(400, "bad-request", "Bad request", detail)


def _too_large(limit: int) -> _Problem:
    return _Problem(
        413, "payload-too-large", "Payload too large", f"request body exceeds {limit} bytes"
    )


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
        paths: frozenset[str] = _DEFAULT_PATHS,
        max_body_bytes: int = 65536,
    ) -> None:
        self.app = app
        self.paths = frozenset(_normalise_path(p) for p in paths)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != ScopeType.HTTP or _normalise_path(scope["path"]) not in self.paths:
            await self.app(scope, receive, send)
            return
        http_scope: HTTPScope = scope  # narrowed by the type check above
        wants_xml = _prefers_xml(_header(http_scope["headers"], b"accept"))

        if _media_type(_header(http_scope["headers"], b"content-type")) in _XML_REQUEST_TYPES:
            try:
                raw = await self._read_body(http_scope, receive)
                payload = msgspec.json.encode(_xml_to_object(raw))
            except _Disconnected:
                return  # nobody left to answer
            except _Problem as problem:
                await _send_problem(send, problem, as_xml=wants_xml)
                return
            http_scope = _with_json_headers(http_scope, len(payload))
            receive = _replay(payload, receive)

        if wants_xml:
            send = _XmlResponder(send)
        await self.app(http_scope, receive, send)

    async def _read_body(self, scope: HTTPScope, receive: Receive) -> bytes:
        """The whole request body, or a 413 as soon as it is known to be too big."""
        declared = _header(scope["headers"], b"content-length")
        if declared:
            if not declared.strip().isdigit():
                raise _bad_request("invalid Content-Length")
            # Refuse up front rather than reading bytes we will throw away.
            if int(declared) > self.max_body_bytes:
                raise _too_large(self.max_body_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            if message["type"] != "http.request":
                continue
            chunk = message.get("body", b"")
            size += len(chunk)
            # Checked per chunk: a chunked upload has no Content-Length to trust.
            if size > self.max_body_bytes:
                raise _too_large(self.max_body_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def xml_middleware(max_body_bytes: int) -> DefineMiddleware:
    """`XmlMiddleware` for `/deposit` and `/withdrawal`, ready for `Litestar(middleware=...)`."""
    return DefineMiddleware(XmlMiddleware, max_body_bytes=max_body_bytes)


# --- requests ---------------------------------------------------------------


def _xml_to_object(raw: bytes) -> dict[str, object]:
    """Translate a `<transaction>` document into the JSON object the schema expects.

    Only the shapes the schema can mean are produced; anything else is a 400
    here, or left for the strict schema (unknown fields, wrong types) to reject.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_request("XML body must be UTF-8") from exc
    # A transaction never needs a DTD; refusing any outright closes entity
    # expansion (billion laughs) and external entities before expat runs.
    # The text is already decoded, so the check cannot be dodged by encoding.
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise _bad_request("DOCTYPE and ENTITY declarations are not allowed")
    try:
        # A str input makes xmltodict tell expat the input is UTF-8, so an
        # encoding="..." declaration cannot reinterpret the bytes. Whitespace
        # is kept: stripped, <amount> 100 </amount> passed as "100" although
        # the contract refuses spaces in an amount (layout between elements
        # is dropped by _without_layout).
        doc = xmltodict.parse(text, disable_entities=True, strip_whitespace=False)
    except ExpatError as exc:
        raise _bad_request(f"malformed XML: {exc}") from exc
    except ValueError as exc:  # xmltodict's answer to an entity declaration
        raise _bad_request(f"malformed XML: {exc}") from exc

    if not isinstance(doc, dict) or len(doc) != 1:
        raise _bad_request("malformed XML: expected a single root element")
    root, content = next(iter(doc.items()))
    if root != ROOT:
        raise _bad_request(f"root element must be <{ROOT}>, not <{root}>")
    if content is None or (isinstance(content, str) and _is_layout(content)):
        return {}  # <transaction/>: the schema reports the missing fields
    if not isinstance(content, dict):
        raise _bad_request(f"<{ROOT}> must contain elements, not text")
    content = _without_layout(content)
    _reject_markup(ROOT, content)

    result: dict[str, object] = {}
    for name, value in content.items():
        if isinstance(value, list):
            raise _bad_request(f"element <{name}> is repeated")
        if isinstance(value, dict):
            if name not in NESTED:
                raise _bad_request(f"element <{name}> must not contain elements")
            result[name] = _flat_object(name, value)
        elif name == "user_id" and isinstance(value, str) and _USER_ID.fullmatch(value):
            # XML has no numbers; the schema wants an integer user id. Anything
            # else stays a string so the schema rejects it with a 400.
            result[name] = int(value)
        else:
            # Unknown elements are kept so forbid_unknown_fields rejects them.
            result[name] = _text(value)
    return result


def _flat_object(name: str, content: dict[str, Any]) -> dict[str, str]:
    """A one-level element such as `<destination>` → an object of strings."""
    content = _without_layout(content)
    _reject_markup(name, content)
    out: dict[str, str] = {}
    for key, value in content.items():
        if isinstance(value, list):
            raise _bad_request(f"element <{key}> in <{name}> is repeated")
        if isinstance(value, dict):
            raise _bad_request(f"element <{key}> in <{name}> nests too deep")
        out[key] = _text(value)
    return out


def _is_layout(text: str) -> bool:
    return not text.strip(" \t\r\n")  # XML's whitespace, not Unicode's


def _without_layout(content: dict[str, Any]) -> dict[str, Any]:
    """`content` without the whitespace that only indents its child elements."""
    text = content.get("#text")
    if isinstance(text, str) and _is_layout(text):
        return {k: v for k, v in content.items() if k != "#text"}
    return content


def _reject_markup(name: str, content: dict[str, Any]) -> None:
    """Attributes and mixed text have no JSON counterpart; refuse them."""
    for key in content:
        if key.startswith("@"):
            raise _bad_request(f"attributes are not allowed (on <{name}>)")
        if key == "#text":
            raise _bad_request(f"<{name}> mixes text and elements")


def _text(value: object) -> str:
    # xmltodict gives None for an empty element; the schema sees "".
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise _bad_request("unexpected XML structure")  # pragma: no cover - defensive


def _with_json_headers(scope: HTTPScope, length: int) -> HTTPScope:
    """A copy of `scope` whose headers describe the JSON body we replay."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _BODY_HEADERS]
    headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(length).encode("ascii")))
    # Copy, never mutate: the caller's scope is shared with outer middleware.
    new = scope.copy()
    new["headers"] = headers
    return new


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields `body` once, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> ReceiveMessage:
        nonlocal sent
        if not sent:
            sent = True
            first: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return first
        return await receive()

    return replay


# --- responses --------------------------------------------------------------


class _XmlResponder:
    """A `send` wrapper that buffers a JSON response and re-sends it as XML.

    Only JSON bodies are buffered (they are small here); anything else, or a
    body that is encoded (e.g. gzip) or does not parse, goes out unchanged.
    """

    def __init__(self, send: Send) -> None:
        self._send = send
        self._start: HTTPResponseStartEvent | None = None
        self._chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message["headers"])
            media = _media_type(_header(headers, b"content-type"))
            encoding = _header(headers, b"content-encoding").strip().lower()
            if media in _JSON_TYPES and encoding in ("", "identity"):
                self._start = message
                return
        elif message["type"] == "http.response.body" and self._start is not None:
            self._chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start, self._start = self._start, None
            await self._flush(start, b"".join(self._chunks))
            return
        elif self._start is not None:
            # Some other event (trailers, extensions): stop buffering first.
            start, self._start = self._start, None
            await self._send(start)
        await self._send(message)

    async def _flush(self, start: HTTPResponseStartEvent, body: bytes) -> None:
        headers = list(start["headers"])
        try:
            data = msgspec.json.decode(body)
        except msgspec.DecodeError:
            await self._send(start)
            await self._send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if _media_type(_header(headers, b"content-type")) == PROBLEM_JSON:
            payload, media = _to_xml("problem", data, PROBLEM_NAMESPACE), PROBLEM_XML
        else:
            payload, media = _to_xml(ROOT, data), XML
        await self._send(
            {
                "type": "http.response.start",
                "status": start["status"],
                "headers": _replace_body_headers(headers, media, len(payload)),
            }
        )
        await self._send({"type": "http.response.body", "body": payload, "more_body": False})


def _to_xml(root: str, value: object, namespace: str | None = None) -> bytes:
    """Serialise a decoded JSON value under `root`.

    Objects become child elements, lists become repeated `<item>` children of
    the list's element, null an empty element, booleans `true`/`false`.
    """
    element = ET.Element(root, {"xmlns": namespace} if namespace else {})
    _fill(element, value)
    document: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return document


def _fill(element: ET.Element, value: object) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            name = str(key)
            if _XML_NAME.fullmatch(name):
                _fill(ET.SubElement(element, name), child)
            else:
                # Keys that are not valid XML names still survive, as data.
                _fill(ET.SubElement(element, "entry", {"key": _xml_safe(name)}), child)
    elif isinstance(value, list):
        for child in value:
            _fill(ET.SubElement(element, "item"), child)
    elif isinstance(value, bool):  # before str(): JSON spells them lowercase
        element.text = "true" if value else "false"
    else:
        element.text = _xml_safe(str(value))


def _xml_safe(text: str) -> str:
    # ElementTree escapes markup but would emit control characters verbatim,
    # producing a document no parser accepts.
    return _XML_ILLEGAL.sub("\ufffd", text)


async def _send_problem(send: Send, problem: _Problem, *, as_xml: bool) -> None:
    """Answer with one of the middleware's own problems, in the client's format."""
    if as_xml:
        body, media = _to_xml("problem", problem.body(), PROBLEM_NAMESPACE), PROBLEM_XML
    else:
        body, media = msgspec.json.encode(problem.body()), PROBLEM_JSON
    headers = _replace_body_headers([], media, len(body))
    if problem.status == 413:
        # The rest of the body is still unread; the connection cannot be reused.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _replace_body_headers(
    headers: Iterable[tuple[bytes, bytes]], media: str, length: int
) -> list[tuple[bytes, bytes]]:
    kept = [(k, v) for k, v in headers if k.lower() not in _BODY_HEADERS]
    kept.append((b"content-type", media.encode("ascii")))
    kept.append((b"content-length", str(length).encode("ascii")))
    return kept


# --- headers ----------------------------------------------------------------


def _prefers_xml(accept: str) -> bool:
    """Whether an Accept header asks for XML over JSON (rule in the module docstring)."""
    best_xml = best_json = 0.0
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, raw = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(raw.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also false for NaN
                    q = 0.0
        if media in _XML_ACCEPT_TYPES:
            best_xml = max(best_xml, q)
        elif media in _JSON_TYPES:
            best_json = max(best_json, q)
    return best_xml > best_json


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    """All values of one header, comma-joined ("" when absent)."""
    values = [v.decode("latin-1") for k, v in headers if k.lower() == name]
    return ",".join(values)


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _normalise_path(path: str) -> str:
    # Litestar routes "/deposit/" to the same handler as "/deposit".
    return path.rstrip("/") or "/"
