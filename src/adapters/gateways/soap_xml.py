"""Reading SOAP 1.1 documents safely, shared by the SOAP family's adapter and verifier.

Elements are matched on their local names (servers choose namespace prefixes
freely) and no document with a DTD is processed (entity expansion, XXE).
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

import xmltodict

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"


class _DropNamespaces(dict[str, str]):
    """xmltodict namespace map that strips every namespace, whatever its prefix.

    Servers choose prefixes freely (``soap:``, ``soapenv:``, ``ns1:``, default
    namespaces), so elements are matched on their local names only.
    """

    def __missing__(self, key: str) -> str:
        return ""


class _UnsafeXml(ValueError):
    """The document has a DTD; we never process one (entity expansion, XXE)."""


def _refuse_doctype(*_args: object) -> None:
    raise _UnsafeXml("DTDs are not accepted")


class SafeExpat:
    """Stands in for the ``expat`` module so xmltodict's parser refuses DTDs.

    ``disable_entities`` only rejects entity declarations; refusing the DOCTYPE
    itself also covers external DTD references, whatever the document encoding.
    """

    @staticmethod
    def ParserCreate(  # mirrors the name xmltodict calls on the expat module
        encoding: str | None = None, namespace_separator: str | None = None
    ) -> expat.XMLParserType:
        parser = expat.ParserCreate(encoding, namespace_separator)
        parser.StartDoctypeDeclHandler = _refuse_doctype
        return parser


def parse_soap_body(content: bytes) -> dict[str, Any] | None:
    """The children of ``Envelope/Body`` keyed by local name, or None if unreadable."""
    try:
        document = xmltodict.parse(
            content,
            expat=SafeExpat,
            process_namespaces=True,
            namespaces=_DropNamespaces(),
            disable_entities=True,
        )
    # Malformed XML, entities, DTDs; LookupError: an encoding expat does not know.
    except (expat.ExpatError, ValueError, LookupError):
        return None
    body = child(child(document, "Envelope"), "Body")
    return body if isinstance(body, dict) else None


def child(node: Any, name: str) -> Any:
    """``node[name]`` when node is an element with children, else None."""
    return node.get(name) if isinstance(node, dict) else None


def text(node: Any) -> str | None:
    """Text of a leaf element, also when it carries attributes (``xsi:type``)."""
    if isinstance(node, dict):
        node = node.get("#text")
    return node if isinstance(node, str) and node else None


_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(text: str, *, default: str) -> str:
    """A stable error code from a PSP's human-readable reason ("CVC Declined" → "cvc_declined")."""
    code = _NON_WORD.sub("_", text.lower()).strip("_")[:64].rstrip("_")
    return code or default
