"""Mutated callbacks: thousands of forgeries, every one refused by the verifiers.

Starting from one valid signed JSON callback (Stripe-style ``X-Signature``)
and one valid signed Adyen SOAP notification, a seeded RNG derives mutations
of the body, the signature header, the secret and the timestamp, and each one
goes through the real verifier (``JsonCallbackVerifier`` /
``AdyenCallbackVerifier``) with the real secrets of the integration tests.

Each mutation must raise ``InvalidSignature`` or ``MalformedCallback``: never
another exception, never be accepted. One exception, by design:

* JSON: the HMAC covers ``"<t>." + the raw bytes``, so every byte change is
  refused (re-serialising with reordered fields or other whitespace too).
* Adyen: the HMAC covers only ``pspReference:originalReference:
  merchantAccountCode:merchantReference:value:currency:eventCode:success``
  (Adyen's scheme). Element order, namespaces and prefixes, ``live``,
  ``reason``, ``eventDate``, other ``additionalData`` entries, XML encoding
  and comments are not signed. A mutation confined to those may be accepted,
  and is then checked instead: what the verifier hands on (gateway, event id,
  transaction, status, reference, amount, currency) must be exactly what the
  original carried; only ``message`` (from the unsigned ``reason``) may
  differ. Such mutations are counted apart and are not in the must-reject set.
  Every mutation of a signed field, of the signature, key or structure
  (duplicated fields, DTDs, entities) is in the must-reject set.

Change the seed with ``PAYMENTS_MUTATION_SEED`` to explore other mutations.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import itertools
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from xml.dom import minidom

import pytest

from adapters.gateways.json_callbacks import JsonCallbackVerifier
from adapters.gateways.signing_json import sign_json
from adapters.gateways.signing_soap import NotificationItem, adyen_hmac, sign_adyen_item
from adapters.gateways.soap_callbacks import AdyenCallbackVerifier
from adapters.gateways.soap_notification import build_notification
from application.ports import GatewayCallback
from domain.errors import InvalidSignature, MalformedCallback
from tests.support.api import WEBHOOK_SECRETS

SEED = int(os.environ.get("PAYMENTS_MUTATION_SEED", "20260607"))
MINIMUM_MUTATIONS = 1000
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z, the verifiers' clock
SIGNED_AT = NOW - 5
TOLERANCE_S = 300
HEADER = "x-signature"  # as Litestar hands headers over: lower-case names

JSON_SECRET = WEBHOOK_SECRETS["paypal"]
OTHER_JSON_SECRET = WEBHOOK_SECRETS["stripe"]
ADYEN_KEY = WEBHOOK_SECRETS["adyen"]
TX_ID = "0190c1f2-7b1a-7c3e-9a55-3f1d2b4c5e6f"
OTHER_TX_ID = "0190c1f2-7b1a-7c3e-9a55-3f1d2b4c5e70"

JSON_FIELDS: dict[str, object] = {
    "event_id": "evt_3MtwBwLkdIwHu7ix28a3tqPa",
    "transaction_id": TX_ID,
    "reference_id": "PA-0000000001",
    "status": "completed",
    "message": "Payment successful",
    # not read by the verifier (unknown fields are tolerated), but signed
    "amount": "100.00",
    "currency": "USD",
}
JSON_BODY = json.dumps(JSON_FIELDS).encode()

ADYEN_ITEM = NotificationItem(
    psp_reference="8816178952380553",
    original_reference="",
    merchant_account="PaymentsPlatform",
    merchant_reference=TX_ID,
    value=1250,
    currency="EUR",
    event_code="AUTHORISATION",
    success=True,
    reason="",
    event_date="2026-01-01T00:00:00+00:00",
)
SIGNED_ITEM = sign_adyen_item(ADYEN_ITEM, ADYEN_KEY)
ADYEN_BODY = build_notification([SIGNED_ITEM])


def json_verifier() -> JsonCallbackVerifier:
    return JsonCallbackVerifier(
        "paypal", [JSON_SECRET], tolerance_s=TOLERANCE_S, clock=lambda: float(NOW)
    )


def adyen_verifier() -> AdyenCallbackVerifier:
    return AdyenCallbackVerifier("adyen", [ADYEN_KEY])


def signed_header(body: bytes = JSON_BODY, secret: str = JSON_SECRET, at: int = SIGNED_AT) -> str:
    return sign_json(body, [secret], at)


VALID_HEADER = signed_header()
VALID_SIGNATURE = VALID_HEADER.split("v1=", 1)[1]


@dataclass(frozen=True)
class Mutation:
    family: str  # "json" or "adyen"
    category: str
    description: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {HEADER: VALID_HEADER})
    # False only for Adyen mutations that may leave every signed field as it was.
    must_reject: bool = True


def applied(callback: GatewayCallback) -> tuple[object, ...]:
    """What a callback makes us do; ``message`` left out (Adyen's unsigned reason)."""
    return (
        callback.gateway_id,
        callback.event_id,
        callback.transaction_id,
        callback.status,
        callback.reference_id,
        callback.amount_minor,
        callback.currency,
    )


# -- JSON mutations -------------------------------------------------------------------
def _json(category: str, description: str, body: bytes, header: str | None = None) -> Mutation:
    headers = {HEADER: VALID_HEADER if header is None else header}
    return Mutation("json", category, description, body, headers)


def _flip(data: bytes, position: int, bit: int) -> bytes:
    mutated = bytearray(data)
    mutated[position] ^= 1 << bit
    return bytes(mutated)


def _byte_mutations(
    family: str, body: bytes, rng: random.Random, extra_flips: int, inserts: int
) -> Iterator[tuple[str, str, bytes]]:
    """Bit flips at every position (and more at random), deletions, insertions."""
    for position in range(len(body)):
        bit = rng.randrange(8)
        yield "bit-flip", f"{family} byte {position} bit {bit}", _flip(body, position, bit)
    for _ in range(extra_flips):
        position, bit = rng.randrange(len(body)), rng.randrange(8)
        yield "bit-flip", f"{family} byte {position} bit {bit}", _flip(body, position, bit)
    for position in range(len(body)):
        yield "byte-delete", f"delete byte {position}", body[:position] + body[position + 1 :]
    for _ in range(inserts):
        position = rng.randrange(len(body) + 1)
        byte = rng.choice(
            [b" ", b"\n", b"\t", b"\x00", b"\xff", b"}", b'"', bytes([rng.randrange(256)])]
        )
        yield (
            "byte-insert",
            f"insert {byte!r} at {position}",
            body[:position] + byte + body[position:],
        )
    for cut in sorted(rng.sample(range(len(body)), min(40, len(body)))):
        yield "truncate", f"truncate to {cut} bytes", body[:cut]


def json_mutations(rng: random.Random) -> Iterator[Mutation]:
    for category, description, body in _byte_mutations("json", JSON_BODY, rng, 150, 150):
        yield _json(category, description, body)

    # Re-serialised: same document, other bytes. The signature is over the bytes.
    keys = list(JSON_FIELDS)
    orders = [p for p in itertools.permutations(keys) if list(p) != keys]
    for order in rng.sample(orders, 60):
        body = json.dumps({k: JSON_FIELDS[k] for k in order}).encode()
        yield _json("reorder-fields", f"fields in order {order}", body)
    for description, body in [
        ("compact separators", json.dumps(JSON_FIELDS, separators=(",", ":")).encode()),
        ("indented", json.dumps(JSON_FIELDS, indent=2).encode()),
        ("sorted keys", json.dumps(JSON_FIELDS, sort_keys=True).encode()),
        ("trailing newline", JSON_BODY + b"\n"),
        ("trailing CRLF", JSON_BODY + b"\r\n"),
        ("leading space", b" " + JSON_BODY),
        ("leading BOM", b"\xef\xbb\xbf" + JSON_BODY),
        ("space before colon", JSON_BODY.replace(b'": ', b'" : ', 1)),
        ("unicode escape in a value", JSON_BODY.replace(b"completed", b"\\u0063ompleted")),
        ("escaped slash", JSON_BODY.replace(b"PA-", b"PA\\u002d")),
        ("UTF-16 encoded", json.dumps(JSON_FIELDS).encode("utf-16")),
        ("body repeated", JSON_BODY + JSON_BODY),
        ("wrapped in a list", b"[" + JSON_BODY + b"]"),
    ]:
        yield _json("reserialise", description, body)

    # Changed values under the original signature.
    changes: dict[str, list[object]] = {
        "status": ["failed", "Completed", "completed ", "pending", None, True],
        "transaction_id": [OTHER_TX_ID, TX_ID.upper(), TX_ID + " ", TX_ID[:-1], "", 1],
        "event_id": ["evt_other", "evt_3MtwBwLkdIwHu7ix28a3tqPb", "", None],
        "amount": ["1000.00", "100.0", "100.01", "10000", 100.0, "0.01", "-100.00"],
        "currency": ["EUR", "usd", "USD "],
        "reference_id": ["PA-0000000002", None, ""],
        "message": ["", "Payment failed", "x" * 501],
    }
    for name, values in changes.items():
        for value in values:
            body = json.dumps({**JSON_FIELDS, name: value}).encode()
            yield _json("changed-value", f"{name} -> {value!r}", body)
    for name in keys:
        body = json.dumps({k: v for k, v in JSON_FIELDS.items() if k != name}).encode()
        yield _json("changed-value", f"{name} removed", body)
    yield _json(
        "changed-value", "extra field", json.dumps({**JSON_FIELDS, "refund": True}).encode()
    )
    yield _json(
        "changed-value",
        "status repeated as a duplicate key",
        JSON_BODY[:-1] + b', "status": "failed"}',
    )
    yield _json("changed-value", "empty body", b"")
    other = json.dumps({**JSON_FIELDS, "transaction_id": OTHER_TX_ID}).encode()
    yield _json("changed-value", "another valid callback's body", other)

    # Signed with the wrong secret: another gateway's, near misses, random ones.
    wrong = {
        "stripe's secret": OTHER_JSON_SECRET,
        "adyen's HMAC key as a string": ADYEN_KEY,
        "secret upper-cased": JSON_SECRET.upper(),
        "secret with a newline": JSON_SECRET + "\n",
        "secret with a space": " " + JSON_SECRET,
        "secret truncated": JSON_SECRET[:-1],
        "secret extended": JSON_SECRET + "x",
        "secret prefix only": "whsec_",
    }
    for position in range(len(JSON_SECRET)):
        changed = chr(ord(JSON_SECRET[position]) ^ 1)
        wrong[f"secret char {position} changed"] = (
            JSON_SECRET[:position] + changed + JSON_SECRET[position + 1 :]
        )
    for n in range(40):
        wrong[f"random secret {n}"] = "whsec_" + rng.randbytes(24).hex()
    for description, secret in wrong.items():
        yield _json("wrong-secret", description, JSON_BODY, signed_header(secret=secret))

    # Correctly signed, but outside the 300 s tolerance, in the past or the future.
    offsets = [-301, -302, -600, -3600, -86_400, -(10**6), -NOW, 301, 302, 3600, 86_400, 10**6]
    offsets += [rng.randint(301, 10**7) * rng.choice([-1, 1]) for _ in range(40)]
    for offset in offsets:
        at = NOW + offset
        yield _json(
            "stale-timestamp", f"signed at now{offset:+d}s", JSON_BODY, signed_header(at=at)
        )
    yield _json("stale-timestamp", "signed at 10^12-1", JSON_BODY, signed_header(at=10**12 - 1))
    # A fresh t with the signature made for another t (a replay re-dated).
    for offset in (-1, 1, -290, 60):
        yield _json(
            "stale-timestamp",
            f"t re-dated by {offset:+d}s, signature kept",
            JSON_BODY,
            f"t={SIGNED_AT + offset},v1={VALID_SIGNATURE}",
        )

    # The header itself.
    for length in range(len(VALID_SIGNATURE)):
        yield _json(
            "truncated-header",
            f"v1 truncated to {length} hex digits",
            JSON_BODY,
            f"t={SIGNED_AT},v1={VALID_SIGNATURE[:length]}",
        )
    for length in range(0, len(VALID_HEADER), 3):
        yield _json(
            "truncated-header",
            f"header truncated to {length} chars",
            JSON_BODY,
            VALID_HEADER[:length],
        )
    stale = signed_header(at=NOW - 3600)
    for description, header in [
        ("header duplicated (two t)", f"{VALID_HEADER},{VALID_HEADER}"),
        ("header duplicated with a stale copy", f"{VALID_HEADER},{stale}"),
        ("stale header then valid one", f"{stale},{VALID_HEADER}"),
        ("second t appended", f"{VALID_HEADER},t={SIGNED_AT}"),
        ("second t prepended", f"t={NOW},{VALID_HEADER}"),
        ("no t", f"v1={VALID_SIGNATURE}"),
        ("no v1", f"t={SIGNED_AT}"),
        ("empty header", ""),
        ("blank header", "   "),
        ("17 signatures, the valid one among them", f"{VALID_HEADER}" + ",v1=00" * 16),
        ("values swapped between t and v1", f"t={VALID_SIGNATURE},v1={SIGNED_AT}"),
        ("signature under v0", f"t={SIGNED_AT},v0={VALID_SIGNATURE}"),
        ("signature under v2", f"t={SIGNED_AT},v2={VALID_SIGNATURE}"),
        ("scheme upper-cased", f"t={SIGNED_AT},V1={VALID_SIGNATURE}"),
        ("t upper-cased", f"T={SIGNED_AT},v1={VALID_SIGNATURE}"),
        ("space before =", f"t={SIGNED_AT},v1 ={VALID_SIGNATURE}"),
        ("space after = in t", f"t= {SIGNED_AT},v1={VALID_SIGNATURE}"),
        ("t with a sign", f"t=+{SIGNED_AT},v1={VALID_SIGNATURE}"),
        ("t with a fraction", f"t={SIGNED_AT}.0,v1={VALID_SIGNATURE}"),
        ("t with underscores", f"t={SIGNED_AT:_},v1={VALID_SIGNATURE}"),
        ("t in Arabic-Indic digits", f"t={str(SIGNED_AT).translate(_ARABIC)},v1={VALID_SIGNATURE}"),
        ("signature upper-case hex", f"t={SIGNED_AT},v1={VALID_SIGNATURE.upper()}"),
        ("signature with 0x", f"t={SIGNED_AT},v1=0x{VALID_SIGNATURE}"),
        ("signature as base64", f"t={SIGNED_AT},v1={_b64_signature()}"),
        ("signature with a non-ASCII char", f"t={SIGNED_AT},v1={VALID_SIGNATURE[:-1]}é"),
        ("semicolons for commas", VALID_HEADER.replace(",", ";")),
        ("item without =", f"{VALID_HEADER},garbage"),
        ("v1 and t joined", f"t={SIGNED_AT}v1={VALID_SIGNATURE}"),
        ("signature of the empty body", signed_header(body=b"")),
        ("signature of another body", signed_header(body=other)),
        ("signature over the body without the t prefix", f"t={SIGNED_AT},v1={_mac_no_prefix()}"),
        ("signature keyed by the body", f"t={SIGNED_AT},v1={_mac_swapped()}"),
    ]:
        yield _json("header-mutation", description, JSON_BODY, header)
    yield Mutation("json", "header-mutation", "no header at all", JSON_BODY, {})
    yield Mutation(
        "json",
        "header-mutation",
        "header under another name",
        JSON_BODY,
        {"x-signature-256": VALID_HEADER},
    )


_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _raw_mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64_signature() -> str:
    digest = _raw_mac(JSON_SECRET.encode(), f"{SIGNED_AT}.".encode() + JSON_BODY)
    return base64.b64encode(digest).decode()


def _mac_no_prefix() -> str:
    return _raw_mac(JSON_SECRET.encode(), JSON_BODY).hex()


def _mac_swapped() -> str:
    return _raw_mac(f"{SIGNED_AT}.".encode() + JSON_BODY, JSON_SECRET.encode()).hex()


# The JSON verifier must accept these: the same signed content, other spellings
# of the header that Stripe's scheme allows. They show that the rejections
# above are not the verifier refusing everything.
JSON_CONTROLS = {
    "as sent": VALID_HEADER,
    "v1 before t": f"v1={VALID_SIGNATURE},t={SIGNED_AT}",
    "spaces after commas": VALID_HEADER.replace(",", ", "),
    "an extra v0": f"{VALID_HEADER},v0=deadbeef",
    "a second, unknown v1 (rotation)": f"t={SIGNED_AT},v1={'0' * 64},v1={VALID_SIGNATURE}",
    "signed 300 s ago": signed_header(at=NOW - TOLERANCE_S),
    "signed 300 s ahead": signed_header(at=NOW + TOLERANCE_S),
}


# -- Adyen mutations ------------------------------------------------------------------
def _adyen(category: str, description: str, body: bytes, *, must_reject: bool = True) -> Mutation:
    return Mutation("adyen", category, description, body, {}, must_reject)


def _document(body: bytes = ADYEN_BODY) -> minidom.Document:
    return minidom.parseString(body)  # noqa: S318 - our own document, to mutate it


def _elements(node: minidom.Node, local_name: str) -> list[minidom.Element]:
    return [
        child
        for child in node.childNodes
        if child.nodeType == child.ELEMENT_NODE and child.localName == local_name
    ]


def _item_of(doc: minidom.Document, index: int = 0) -> minidom.Element:
    items: list[minidom.Element] = doc.getElementsByTagName("NotificationRequestItem")
    return items[index]


def _serialise(doc: minidom.Document) -> bytes:
    out: bytes = doc.toxml(encoding="utf-8")
    return out


def _edit(edit: Callable[[minidom.Document], None]) -> bytes:
    doc = _document()
    edit(doc)
    return _serialise(doc)


def _set_text(element: minidom.Element, text: str) -> None:
    for child in list(element.childNodes):
        element.removeChild(child)
    element.appendChild(element.ownerDocument.createTextNode(text))


def _signed_element(doc: minidom.Document, name: str) -> minidom.Element:
    item = _item_of(doc)
    if name in ("value", "currency"):
        return _elements(_elements(item, "amount")[0], name)[0]
    return _elements(item, name)[0]


def _signature_element(doc: minidom.Document) -> minidom.Element:
    entry = _item_of(doc).getElementsByTagName("entry")[0]
    return _elements(entry, "value")[0]


def adyen_mutations(rng: random.Random) -> Iterator[Mutation]:
    # Byte-level: most land in signed fields, tags or the signature and must be
    # refused; some land in unsigned text (namespaces, live, eventDate, xsi
    # attributes) and may be accepted if nothing applied changes.
    for category, description, body in _byte_mutations("adyen", ADYEN_BODY, rng, 150, 150):
        yield _adyen(category, description, body, must_reject=False)

    # Signed fields changed, the original signature kept.
    changes: dict[str, list[str]] = {
        "value": ["1251", "125", "12500", "0", "01250", "-1250", "1250.00", "+1250", "1 250", ""],
        "currency": ["USD", "eur", "EURO", "EU", ""],
        "success": ["false", "TRUE", "1", "yes", ""],
        "merchantReference": [OTHER_TX_ID, TX_ID.upper(), TX_ID[:-1], "x:y", ""],
        "pspReference": ["8816178952380554", "8816178952380553:AUTHORISATION", ""],
        "eventCode": ["CANCELLATION", "PAYOUT_DECLINE", "REPORT_AVAILABLE", "authorisation", ""],
        "merchantAccountCode": ["OtherMerchant", "PaymentsPlatform:", ""],
        "originalReference": ["8816178952380553", ":"],
    }
    for name, values in changes.items():
        for value in values:

            def change(doc: minidom.Document, name: str = name, value: str = value) -> None:
                element = _signed_element(doc, name)
                if element.hasAttribute("xsi:nil"):
                    element.removeAttribute("xsi:nil")
                _set_text(element, value)

            yield _adyen("changed-value", f"{name} -> {value!r}", _edit(change))
    # The same change through the production serialiser (no DOM round trip).
    for name, value in [
        ("value", 1251),
        ("currency", "USD"),
        ("success", False),
        ("merchant_reference", OTHER_TX_ID),
        ("psp_reference", "1"),
        ("event_code", "CANCELLATION"),
    ]:
        mutated_item = replace(SIGNED_ITEM, **{name: value})  # type: ignore[arg-type]
        yield _adyen(
            "changed-value", f"rebuilt with {name}={value!r}", build_notification([mutated_item])
        )
    # Values moved between signed fields (the signing string is colon-joined).
    shifted = replace(
        SIGNED_ITEM,
        psp_reference=f"{SIGNED_ITEM.psp_reference}:",
        original_reference="",
        merchant_account=SIGNED_ITEM.merchant_account[:-1],
    )
    yield _adyen(
        "changed-value", "text shifted across a colon boundary", build_notification([shifted])
    )

    def swap(doc: minidom.Document) -> None:
        a, b = _signed_element(doc, "pspReference"), _signed_element(doc, "merchantReference")
        text_a, text_b = a.firstChild.data, b.firstChild.data
        _set_text(a, text_b)
        _set_text(b, text_a)

    yield _adyen("changed-value", "pspReference and merchantReference swapped", _edit(swap))

    # The signature: removed, emptied, damaged, another item's, re-encoded.
    signature = SIGNED_ITEM.additional_data["hmacSignature"]
    raw_signature = base64.b64decode(signature)
    other_item_signature = adyen_hmac(replace(ADYEN_ITEM, value=1251), ADYEN_KEY)
    for description, text in [
        ("emptied", ""),
        ("another item's signature", other_item_signature),
        ("without padding", signature.rstrip("=")),
        ("url-safe alphabet", base64.urlsafe_b64encode(raw_signature).decode() + "x"),
        ("as hex", raw_signature.hex()),
        ("truncated by one char", signature[:-2] + "="),
        ("lower-cased", signature.lower()),
        ("doubled", signature + signature),
        ("digest of the empty signing string", _adyen_digest(b"")),
    ]:

        def set_signature(doc: minidom.Document, text: str = text) -> None:
            _set_text(_signature_element(doc), text)

        yield _adyen("signature", f"hmacSignature {description}", _edit(set_signature))
    for position in range(len(raw_signature)):
        damaged = _flip(raw_signature, position, rng.randrange(8))

        def set_damaged(doc: minidom.Document, damaged: bytes = damaged) -> None:
            _set_text(_signature_element(doc), base64.b64encode(damaged).decode())

        yield _adyen("signature", f"signature byte {position} flipped", _edit(set_damaged))

    def drop_signature(doc: minidom.Document) -> None:
        entry = _item_of(doc).getElementsByTagName("entry")[0]
        entry.parentNode.removeChild(entry)

    yield _adyen("signature", "hmacSignature entry removed", _edit(drop_signature))

    def rename_key(doc: minidom.Document) -> None:
        key = _item_of(doc).getElementsByTagName("key")[0]
        _set_text(key, "HmacSignature")

    yield _adyen("signature", "hmacSignature key renamed", _edit(rename_key))

    def second_signature(doc: minidom.Document) -> None:
        entry = _item_of(doc).getElementsByTagName("entry")[0]
        copy = entry.cloneNode(deep=True)
        _set_text(_elements(copy, "value")[0], other_item_signature)
        entry.parentNode.appendChild(copy)

    yield _adyen("signature", "a second hmacSignature entry", _edit(second_signature))

    # Signed with the wrong key.
    wrong_keys = {
        "JSON gateway paypal's secret, hex-encoded": JSON_SECRET.encode().hex(),
        "JSON gateway stripe's secret, hex-encoded": OTHER_JSON_SECRET.encode().hex(),
        "key truncated by one byte": ADYEN_KEY[:-2],
        "key extended by one byte": ADYEN_KEY + "00",
        "empty key": "",
        "key reversed": ADYEN_KEY[::-1],
    }
    for position in range(0, len(ADYEN_KEY), 2):
        nibble = "0" if ADYEN_KEY[position] != "0" else "1"
        wrong_keys[f"key nibble {position} changed"] = (
            ADYEN_KEY[:position] + nibble + ADYEN_KEY[position + 1 :]
        )
    for n in range(30):
        wrong_keys[f"random key {n} (another merchant account)"] = rng.randbytes(32).hex()
    for description, key in wrong_keys.items():
        yield _adyen(
            "wrong-secret",
            f"signed with {description}",
            build_notification([sign_adyen_item(ADYEN_ITEM, key)]),
        )

    # Several items: every one must be signed, none may be changed.
    forged = sign_adyen_item(replace(ADYEN_ITEM, psp_reference="1"), rng.randbytes(32).hex())
    yield _adyen(
        "items", "a forged item after a valid one", build_notification([SIGNED_ITEM, forged])
    )
    yield _adyen(
        "items", "a forged item before a valid one", build_notification([forged, SIGNED_ITEM])
    )
    unsigned = replace(SIGNED_ITEM, value=99_999)
    yield _adyen(
        "items", "a valid item then a changed copy", build_notification([SIGNED_ITEM, unsigned])
    )
    yield _adyen(
        "items",
        "the valid item duplicated (same signed content twice)",
        build_notification([SIGNED_ITEM, SIGNED_ITEM]),
        must_reject=False,
    )

    def empty_items(doc: minidom.Document) -> None:
        item = _item_of(doc)
        item.parentNode.removeChild(item)

    yield _adyen("items", "no item at all", _edit(empty_items))

    # Fields duplicated inside one item: which copy was signed would be open.
    for name in (
        "value",
        "currency",
        "success",
        "merchantReference",
        "pspReference",
        "eventCode",
        "merchantAccountCode",
        "reason",
        "eventDate",
        "amount",
    ):
        for variant in ("same text", "other text"):

            def duplicate(doc: minidom.Document, name: str = name, variant: str = variant) -> None:
                element = _signed_element(doc, name)
                copy = element.cloneNode(deep=True)
                if variant == "other text" and name != "amount":
                    _set_text(copy, "9")
                element.parentNode.appendChild(copy)

            yield _adyen("duplicate-field", f"{name} duplicated ({variant})", _edit(duplicate))

    # Reordering elements: not signed, so it may be accepted, with nothing changed.
    for n in range(25):

        def shuffle(doc: minidom.Document, n: int = n) -> None:
            item = _item_of(doc)
            children = [c for c in item.childNodes if c.nodeType == c.ELEMENT_NODE]
            random.Random(SEED + n).shuffle(children)
            for child in children:
                item.appendChild(child)  # moves it to the end, in the new order
            if n % 2:
                amount = _elements(item, "amount")[0]
                amount.appendChild(_elements(amount, "currency")[0])

        yield _adyen(
            "reorder-elements", f"item children shuffled ({n})", _edit(shuffle), must_reject=False
        )

    # Unsigned fields changed: accepted by design, nothing applied may change.
    for name, value in [
        ("reason", "Fraud suspected"),
        ("eventDate", "1999-01-01"),
        ("live", "true"),
    ]:

        def change_unsigned(doc: minidom.Document, name: str = name, value: str = value) -> None:
            element = doc.getElementsByTagName(name)[0]
            if element.hasAttribute("xsi:nil"):
                element.removeAttribute("xsi:nil")
            _set_text(element, value)

        yield _adyen(
            "unsigned-field", f"{name} -> {value!r}", _edit(change_unsigned), must_reject=False
        )

    def extra_entry(doc: minidom.Document) -> None:
        entry = _item_of(doc).getElementsByTagName("entry")[0]
        copy = entry.cloneNode(deep=True)
        _set_text(_elements(copy, "key")[0], "authCode")
        _set_text(_elements(copy, "value")[0], "123456")
        entry.parentNode.appendChild(copy)

    yield _adyen(
        "unsigned-field", "another additionalData entry", _edit(extra_entry), must_reject=False
    )

    # Namespace games.
    body = ADYEN_BODY.decode()
    for description, text, reject in [
        (
            "soap prefix renamed",
            body.replace("soap:", "env:").replace("xmlns:soap", "xmlns:env"),
            False,
        ),
        (
            "SOAP 1.2 envelope namespace",
            body.replace(
                "http://schemas.xmlsoap.org/soap/envelope/",
                "http://www.w3.org/2003/05/soap-envelope",
            ),
            False,
        ),
        (
            "item namespace changed",
            body.replace(
                '<notificationItems xmlns="http://notification.services.adyen.com">',
                '<notificationItems xmlns="urn:evil">',
            ),
            False,
        ),
        (
            "undeclared prefix on value",
            body.replace("<value xmlns", "<evil:value xmlns").replace(
                "</value></amount>", "</evil:value></amount>"
            ),
            True,
        ),
        (
            "foreign-namespace value beside the real one",
            body.replace(
                "</amount>", '<evil:value xmlns:evil="urn:evil">99999</evil:value></amount>'
            ),
            True,
        ),
        (
            "foreign-namespace merchantReference beside the real one",
            body.replace(
                "<pspReference>",
                f'<x:merchantReference xmlns:x="urn:x">{OTHER_TX_ID}</x:merchantReference>'
                "<pspReference>",
            ),
            True,
        ),
        (
            "prefixed copy of success",
            body.replace(
                "</NotificationRequestItem>",
                '<n:success xmlns:n="http://notification.services.adyen.com">false</n:success></NotificationRequestItem>',
            ),
            True,
        ),
        (
            "xmlns attribute injected into a value",
            body.replace("<success>", '<success xmlns="urn:x">'),
            False,
        ),
    ]:
        yield _adyen("namespace", description, text.encode(), must_reject=reject)

    # DTDs and entities: refused whatever they would expand to.
    declaration = '<?xml version="1.0" encoding="utf-8"?>'
    rest = body[len(declaration) :]
    for description, doctype, replacement in [
        ("internal entity for the reference", f'<!DOCTYPE x [<!ENTITY r "{TX_ID}">]>', "&r;"),
        ("external entity (XXE)", '<!DOCTYPE x [<!ENTITY r SYSTEM "file:///etc/passwd">]>', "&r;"),
        (
            "external entity over http",
            '<!DOCTYPE x [<!ENTITY r SYSTEM "http://127.0.0.1:9/x">]>',
            "&r;",
        ),
        ("parameter entity", '<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', TX_ID),
        (
            "billion laughs",
            '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
            "&c;",
        ),
        ("DOCTYPE without entities", "<!DOCTYPE soap:Envelope>", TX_ID),
        ("external DTD", '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">', TX_ID),
        ("undeclared entity", "", "&r;"),
    ]:
        document = declaration + doctype + rest.replace(TX_ID, replacement, 1)
        yield _adyen("doctype-entity", description, document.encode())

    # Encodings, comments, CDATA and character references: the same signed text,
    # other bytes. May be accepted, with nothing changed.
    for description, variant in [
        (
            "UTF-16 re-encoding",
            body.replace('encoding="utf-8"', 'encoding="UTF-16"').encode("utf-16"),
        ),
        ("comment inside the value", body.replace(">1250<", ">12<!-- -->50<").encode()),
        ("CDATA reference", body.replace(f">{TX_ID}<", f"><![CDATA[{TX_ID}]]><").encode()),
        ("character reference in the value", body.replace(">1250<", ">&#49;250<").encode()),
        ("whitespace between elements", body.replace("><", ">\n  <").encode()),
        (
            "processing instruction inside the item",
            body.replace("<NotificationRequestItem>", "<NotificationRequestItem><?pi x?>").encode(),
        ),
        (
            "XInclude element inside the item",
            body.replace(
                "<NotificationRequestItem>",
                '<NotificationRequestItem><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>',
            ).encode(),
        ),
    ]:
        yield _adyen("encoding", description, variant, must_reject=False)
    for description, variant in [
        (
            "latin-1 declared, UTF-8 bytes with a non-ASCII reference",
            body.replace('encoding="utf-8"', 'encoding="iso-8859-1"')
            .replace(TX_ID, TX_ID + "é")
            .encode(),
        ),
        ("unknown encoding", body.replace('encoding="utf-8"', 'encoding="utf-9"').encode()),
        (
            "invalid UTF-8 in the reference",
            body.encode().replace(TX_ID.encode(), TX_ID.encode() + b"\xc3"),
        ),
        (
            "NUL byte in the reference",
            body.encode().replace(TX_ID.encode(), TX_ID.encode() + b"\x00"),
        ),
        ("JSON instead of XML", JSON_BODY),
        ("empty body", b""),
        ("two documents", ADYEN_BODY + ADYEN_BODY),
    ]:
        yield _adyen("encoding", description, variant)


def _adyen_digest(signing_string: bytes) -> str:
    key = bytes.fromhex(ADYEN_KEY)
    return base64.b64encode(_raw_mac(key, signing_string)).decode()


# -- running them -----------------------------------------------------------------------
@dataclass
class Outcome:
    mutation: Mutation
    result: str  # "InvalidSignature", "MalformedCallback", "accepted" or "raised <type>"
    callbacks: list[GatewayCallback] = field(default_factory=list)


def _verify(mutation: Mutation) -> Outcome:
    verifier = json_verifier() if mutation.family == "json" else adyen_verifier()
    try:
        callbacks = verifier.verify(mutation.headers, mutation.body)
    except (InvalidSignature, MalformedCallback) as exc:
        return Outcome(mutation, type(exc).__name__)
    except Exception as exc:  # any other exception is a finding
        return Outcome(mutation, f"raised {type(exc).__name__}: {exc}")
    return Outcome(mutation, "accepted", callbacks)


@functools.cache
def all_outcomes() -> tuple[Outcome, ...]:
    """Every mutation, deduplicated on (family, body, headers), and its outcome."""
    rng = random.Random(SEED)
    seen: set[tuple[str, bytes, tuple[tuple[str, str], ...]]] = set()
    originals = {
        ("json", JSON_BODY, ((HEADER, VALID_HEADER),)),
        ("adyen", ADYEN_BODY, ()),
    }
    outcomes = []
    for mutation in itertools.chain(json_mutations(rng), adyen_mutations(rng)):
        key = (mutation.family, mutation.body, tuple(sorted(mutation.headers.items())))
        if key in seen or key in originals:
            continue  # e.g. deleting either of two equal neighbouring bytes
        seen.add(key)
        outcomes.append(_verify(mutation))
    return tuple(outcomes)


def _baseline() -> set[tuple[object, ...]]:
    return {applied(c) for c in adyen_verifier().verify({}, ADYEN_BODY)}


# Found by these mutations (fixed): an XML declaration naming an encoding
# Python does not know (a flipped byte in "utf-8") made parse_soap_body raise
# LookupError, so POST /callback/adyen answered 500 instead of 400. No known
# bug is excused any more; the hook stays for the next finding.
def is_known_bug(outcome: Outcome) -> bool:
    return False


def problems(outcomes: list[Outcome]) -> list[str]:
    """Each mutation that was accepted when it must not be, or raised something else."""
    baseline = _baseline()
    found = []
    for o in outcomes:
        m = o.mutation
        where = f"[{m.family}/{m.category}] {m.description}"
        if is_known_bug(o):
            continue
        if o.result.startswith("raised"):
            found.append(f"{where}: {o.result}")
        elif o.result == "accepted":
            if m.must_reject:
                found.append(f"{where}: accepted")
            elif any(applied(c) not in baseline for c in o.callbacks) or not o.callbacks:
                changed = [applied(c) for c in o.callbacks]
                found.append(f"{where}: accepted with changed content {changed}")
    return found


JSON_CATEGORIES = [
    "bit-flip",
    "byte-delete",
    "byte-insert",
    "truncate",
    "reorder-fields",
    "reserialise",
    "changed-value",
    "wrong-secret",
    "stale-timestamp",
    "truncated-header",
    "header-mutation",
]
ADYEN_CATEGORIES = [
    "bit-flip",
    "byte-delete",
    "byte-insert",
    "truncate",
    "changed-value",
    "signature",
    "wrong-secret",
    "items",
    "duplicate-field",
    "reorder-elements",
    "unsigned-field",
    "namespace",
    "doctype-entity",
    "encoding",
]


def _of(family: str, category: str) -> list[Outcome]:
    return [
        o for o in all_outcomes() if o.mutation.family == family and o.mutation.category == category
    ]


def test_the_unmutated_callbacks_verify() -> None:
    [callback] = json_verifier().verify({HEADER: VALID_HEADER}, JSON_BODY)
    assert (callback.transaction_id, callback.status) == (TX_ID, "completed")
    [item] = adyen_verifier().verify({}, ADYEN_BODY)
    assert (item.transaction_id, item.status, item.amount_minor) == (TX_ID, "completed", 1250)


@pytest.mark.parametrize("description", list(JSON_CONTROLS))
def test_equivalent_json_signature_headers_are_accepted(description: str) -> None:
    """Controls: spellings Stripe's scheme allows still verify."""
    json_verifier().verify({HEADER: JSON_CONTROLS[description]}, JSON_BODY)


@pytest.mark.parametrize("category", JSON_CATEGORIES)
def test_every_json_mutation_is_rejected(category: str) -> None:
    outcomes = _of("json", category)
    assert outcomes, f"no {category} mutations generated"
    assert all(o.mutation.must_reject for o in outcomes)
    found = problems(outcomes)
    assert not found, f"{len(found)} of {len(outcomes)} not rejected:\n" + "\n".join(found[:30])


@pytest.mark.parametrize("category", ADYEN_CATEGORIES)
def test_every_adyen_mutation_is_rejected_unless_the_signed_content_is_unchanged(
    category: str,
) -> None:
    outcomes = _of("adyen", category)
    assert outcomes, f"no {category} mutations generated"
    found = problems(outcomes)
    assert not found, f"{len(found)} of {len(outcomes)} not rejected:\n" + "\n".join(found[:30])


def test_an_unknown_xml_encoding_is_a_malformed_callback() -> None:
    body = ADYEN_BODY.replace(b'encoding="utf-8"', b'encoding="utf-9"')
    with pytest.raises(MalformedCallback):
        adyen_verifier().verify({}, body)


def test_at_least_a_thousand_mutations_were_tried_and_rejected() -> None:
    outcomes = all_outcomes()
    results = Counter((o.mutation.family, o.result) for o in outcomes)
    must_reject = [o for o in outcomes if o.mutation.must_reject]
    rejected = [o for o in outcomes if o.result in ("InvalidSignature", "MalformedCallback")]
    accepted_unsigned = [o for o in outcomes if o.result == "accepted"]
    known_bug = [o for o in outcomes if is_known_bug(o)]
    summary = "\n".join(
        f"  {family:5} {result:18} {n}" for (family, result), n in sorted(results.items())
    )
    print(
        f"\ncallback mutations (seed {SEED}): {len(outcomes)} tried, {len(rejected)} rejected, "
        f"{len(accepted_unsigned)} accepted with unchanged signed content (Adyen, by design), "
        f"{len(must_reject)} in the must-reject set, {len(known_bug)} hit the known "
        f"LookupError bug\n{summary}"
    )
    assert len(outcomes) >= MINIMUM_MUTATIONS
    assert len(must_reject) >= MINIMUM_MUTATIONS
    assert all(o.mutation.family == "adyen" for o in accepted_unsigned)
    assert not problems(list(outcomes))
