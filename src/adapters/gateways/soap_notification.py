"""Adyen's SOAP notifications: writing them (the sandbox) and reading them (our verifier).

Wire format, as Adyen's classic SOAP notifications arrive (namespaces
included; we read them ignoring namespaces, and answer ``[accepted]``)::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
                   xmlns:xsd="http://www.w3.org/2001/XMLSchema"
                   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <soap:Body>
        <ns1:sendNotification xmlns:ns1="http://notification.services.adyen.com">
          <ns1:notification>
            <live xmlns="http://notification.services.adyen.com">false</live>
            <notificationItems xmlns="http://notification.services.adyen.com">
              <NotificationRequestItem>
                <additionalData>
                  <entry><key xsi:type="xsd:string">hmacSignature</key>
                         <value xsi:type="xsd:string">...</value></entry>
                </additionalData>
                <amount>
                  <currency xmlns="http://common.services.adyen.com">EUR</currency>
                  <value xmlns="http://common.services.adyen.com">1250</value>
                </amount>
                <eventCode>AUTHORISATION</eventCode> ... <success>true</success>
              </NotificationRequestItem>
            </notificationItems>
          </ns1:notification>
        </ns1:sendNotification>
      </soap:Body>
    </soap:Envelope>
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NoReturn

import xmltodict

from adapters.gateways.signing_soap import NotificationItem
from adapters.gateways.soap_xml import SOAP_ENV_NS, child, parse_soap_body
from domain.errors import MalformedCallback

ADYEN_NOTIFICATION_NS = "http://notification.services.adyen.com"
ADYEN_COMMON_NS = "http://common.services.adyen.com"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
# The body Adyen requires in answer to a notification, or it keeps retrying.
ACCEPTED = b"[accepted]"

# Canonical integers only (no sign, no leading zero): the signature covers the
# text Adyen sent, and we sign str(value), so "01250" would not verify anyway.
_MINOR_UNITS = re.compile(r"0|[1-9][0-9]{0,17}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_BOOLEANS = {"true": True, "false": False}


# -- writing ----------------------------------------------------------------------
def _optional(text: str) -> str | dict[str, str]:
    # Adyen sends absent values as xsi:nil elements (originalReference does).
    return text if text else {"@xsi:nil": "true"}


def _typed(text: str) -> dict[str, str]:
    return {"@xsi:type": "xsd:string", "#text": text}


def _common(text: str) -> dict[str, str]:
    # Amount fields live in Adyen's common namespace, declared as the default.
    return {"@xmlns": ADYEN_COMMON_NS, "#text": text}


def _item_element(item: NotificationItem) -> dict[str, Any]:
    entries = [{"key": _typed(k), "value": _typed(v)} for k, v in item.additional_data.items()]
    return {
        "additionalData": {"entry": entries} if entries else {"@xsi:nil": "true"},
        "amount": {"currency": _common(item.currency), "value": _common(str(item.value))},
        "eventCode": item.event_code,
        "eventDate": _optional(item.event_date),
        "merchantAccountCode": item.merchant_account,
        "merchantReference": item.merchant_reference,
        "originalReference": _optional(item.original_reference),
        "pspReference": item.psp_reference,
        "reason": _optional(item.reason),
        "success": "true" if item.success else "false",
    }


def build_notification(items: Sequence[NotificationItem], live: bool = False) -> bytes:
    """The SOAP 1.1 ``sendNotification`` envelope for ``items``, as Adyen posts it.

    Items are written as given: sign them first (:func:`sign_adyen_item`).
    """
    if not items:
        raise ValueError("a notification carries at least one item")
    # Adyen's namespacing: prefixed operation and wrapper, then a default
    # namespace declared on live and notificationItems qualifying the rest.
    envelope = {
        "soap:Envelope": {
            "@xmlns:soap": SOAP_ENV_NS,
            "@xmlns:xsd": XSD_NS,
            "@xmlns:xsi": XSI_NS,
            "soap:Body": {
                "ns1:sendNotification": {
                    "@xmlns:ns1": ADYEN_NOTIFICATION_NS,
                    "ns1:notification": {
                        "live": {
                            "@xmlns": ADYEN_NOTIFICATION_NS,
                            "#text": "true" if live else "false",
                        },
                        "notificationItems": {
                            "@xmlns": ADYEN_NOTIFICATION_NS,
                            "NotificationRequestItem": [_item_element(i) for i in items],
                        },
                    },
                }
            },
        }
    }
    encoded: bytes = xmltodict.unparse(
        envelope, encoding="utf-8", short_empty_elements=True
    ).encode("utf-8")
    return encoded


# -- reading ----------------------------------------------------------------------
def parse_notification(body: bytes) -> list[NotificationItem]:
    """Every ``NotificationRequestItem`` of a SOAP notification, validated.

    Parsing refuses DTDs and entities and ignores namespaces (prefixes vary
    between senders). Raises MalformedCallback for unreadable XML, a missing
    or empty required field, a non-integer amount, a success other than
    true/false or a repeated field. ``live`` is not read. Signatures are not
    checked here: call :func:`verify_adyen_item` on each item.
    """
    soap_body = parse_soap_body(body)
    if soap_body is None:
        _malformed("not a readable SOAP envelope")
    notification = child(child(soap_body, "sendNotification"), "notification")
    if notification is None:  # some samples capitalise the wrapper element
        notification = child(child(soap_body, "sendNotification"), "Notification")
    raw_items = child(child(notification, "notificationItems"), "NotificationRequestItem")
    # xmltodict gives one element as a dict and several as a list.
    elements = raw_items if isinstance(raw_items, list) else [raw_items]
    if raw_items is None or not all(isinstance(e, dict) for e in elements):
        _malformed("no notification items")
    return [_read_item(element) for element in elements]


def _read_item(element: dict[str, Any]) -> NotificationItem:
    amount = child(element, "amount")
    if not isinstance(amount, dict):
        _malformed("amount is required")
    value = _required(amount, "value")
    if not _MINOR_UNITS.fullmatch(value):
        _malformed("amount value must be a whole number of minor units")
    currency = _required(amount, "currency")
    if not _CURRENCY.fullmatch(currency):
        _malformed("amount currency must be an ISO 4217 code")
    success = _BOOLEANS.get(_required(element, "success"))
    if success is None:
        _malformed("success must be true or false")
    return NotificationItem(
        psp_reference=_required(element, "pspReference"),
        original_reference=_leaf(element, "originalReference") or "",
        merchant_account=_required(element, "merchantAccountCode"),
        merchant_reference=_required(element, "merchantReference"),
        value=int(value),
        currency=currency,
        event_code=_required(element, "eventCode"),
        success=success,
        reason=_leaf(element, "reason") or "",
        event_date=_leaf(element, "eventDate") or "",
        additional_data=_additional_data(element),
    )


def _additional_data(element: dict[str, Any]) -> dict[str, str]:
    entries = child(child(element, "additionalData"), "entry")
    if entries is None:
        return {}
    data: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else [entries]:
        key = _leaf(entry, "key") if isinstance(entry, dict) else None
        if not key:
            _malformed("additionalData entry without a key")
        if key in data:  # two hmacSignature entries would leave it open which counts
            _malformed(f"additionalData key {key!r} repeated")
        data[key] = _leaf(entry, "value") or ""
    return data


def _leaf(node: dict[str, Any], name: str) -> str | None:
    """Text of a simple element: None if absent, "" if empty or xsi:nil.

    An element with children or repeated is malformed: taking either copy of
    a repeated field would let the signed and the applied value differ.
    """
    if name not in node:
        return None
    value = node[name]
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, dict) and all(k.startswith("@") or k == "#text" for k in value):
        text = value.get("#text", "")
        return text if isinstance(text, str) else ""
    raise MalformedCallback(f"{name} must be a single text element")


def _required(node: dict[str, Any], name: str) -> str:
    return _leaf(node, name) or _malformed(f"{name} is required")


def _malformed(detail: str) -> NoReturn:
    raise MalformedCallback(detail)
