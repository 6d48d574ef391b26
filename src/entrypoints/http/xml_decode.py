"""An XML request body → the JSON object the transaction schema expects.

Only the shapes the schema can mean are produced; anything else is refused
here (`BadXml`, a 400), or left for the strict schema (unknown fields, wrong
types) to reject.
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict

ROOT = "transaction"
NESTED = frozenset({"destination"})
_USER_ID = re.compile(r"[0-9]{1,19}")


class BadXml(ValueError):
    """A body that cannot stand for a transaction request; the message says why."""


def xml_to_object(raw: bytes) -> dict[str, object]:
    """Translate a `<transaction>` document into the JSON object the schema expects."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadXml("XML body must be UTF-8") from exc
    # A transaction never needs a DTD; refusing any outright closes entity
    # expansion (billion laughs) and external entities before expat runs.
    # The text is already decoded, so the check cannot be dodged by encoding.
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise BadXml("DOCTYPE and ENTITY declarations are not allowed")
    try:
        # A str input makes xmltodict tell expat the input is UTF-8, so an
        # encoding="..." declaration cannot reinterpret the bytes. Whitespace
        # is kept: stripped, <amount> 100 </amount> passed as "100" although
        # the contract refuses spaces in an amount (layout between elements
        # is dropped by _without_layout).
        doc = xmltodict.parse(text, disable_entities=True, strip_whitespace=False)
    except ExpatError as exc:
        raise BadXml(f"malformed XML: {exc}") from exc
    except ValueError as exc:  # xmltodict's answer to an entity declaration
        raise BadXml(f"malformed XML: {exc}") from exc

    if not isinstance(doc, dict) or len(doc) != 1:
        raise BadXml("malformed XML: expected a single root element")
    root, content = next(iter(doc.items()))
    if root != ROOT:
        raise BadXml(f"root element must be <{ROOT}>, not <{root}>")
    if content is None or (isinstance(content, str) and _is_layout(content)):
        return {}  # <transaction/>: the schema reports the missing fields
    if not isinstance(content, dict):
        raise BadXml(f"<{ROOT}> must contain elements, not text")
    content = _without_layout(content)
    _reject_markup(ROOT, content)

    result: dict[str, object] = {}
    for name, value in content.items():
        if isinstance(value, list):
            raise BadXml(f"element <{name}> is repeated")
        if isinstance(value, dict):
            if name not in NESTED:
                raise BadXml(f"element <{name}> must not contain elements")
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
            raise BadXml(f"element <{key}> in <{name}> is repeated")
        if isinstance(value, dict):
            raise BadXml(f"element <{key}> in <{name}> nests too deep")
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
            raise BadXml(f"attributes are not allowed (on <{name}>)")
        if key == "#text":
            raise BadXml(f"<{name}> mixes text and elements")


def _text(value: object) -> str:
    # xmltodict gives None for an empty element; the schema sees "".
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise BadXml("unexpected XML structure")  # pragma: no cover - defensive
