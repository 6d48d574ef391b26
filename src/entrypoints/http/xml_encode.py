"""The app's JSON answers as XML, for clients whose Accept header prefers it.

Accept rule (see `prefers_xml`): the response is XML when `application/xml`,
`text/xml` or `application/problem+xml` is listed with a q-value strictly
greater than that of `application/json` / `application/problem+json` (0 when
absent). Wildcards (`*/*`, `application/*`) count for neither side, so JSON
stays the default. A malformed or out-of-range q counts as 0.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import msgspec
from litestar.types import HTTPResponseStartEvent, Message, Send

from entrypoints.http.raw import (
    PROBLEM_JSON,
    header_list,
    media_type,
    send_response,
    with_body_headers,
)
from entrypoints.http.xml_decode import ROOT

XML = "application/xml"
PROBLEM_XML = "application/problem+xml"
# RFC 9457 keeps RFC 7807's namespace for the XML form of a problem.
PROBLEM_NAMESPACE = "urn:ietf:rfc:7807"

_XML_ACCEPT_TYPES = frozenset({"application/xml", "text/xml", PROBLEM_XML})
_JSON_TYPES = frozenset({"application/json", PROBLEM_JSON})
# Element names we emit verbatim; anything else becomes <entry key="...">.
# Names starting with "xml" are reserved by the XML spec.
_XML_NAME = re.compile(r"(?!(?i:xml))[A-Za-z_][A-Za-z0-9._-]*")
# Characters XML 1.0 cannot carry at all, not even escaped.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def prefers_xml(accept: str) -> bool:
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


def problem_xml(problem: dict[str, Any]) -> bytes:
    """A problem's members as `application/problem+xml`."""
    return to_xml("problem", problem, PROBLEM_NAMESPACE)


class XmlResponder:
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
            media = media_type(header_list(headers, b"content-type"))
            encoding = header_list(headers, b"content-encoding").strip().lower()
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
        if media_type(header_list(headers, b"content-type")) == PROBLEM_JSON:
            payload, media = problem_xml(data), PROBLEM_XML
        else:
            payload, media = to_xml(ROOT, data), XML
        new_headers = with_body_headers(headers, media, len(payload))
        await send_response(self._send, start["status"], new_headers, payload)


def to_xml(root: str, value: object, namespace: str | None = None) -> bytes:
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
