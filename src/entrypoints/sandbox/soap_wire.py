"""The SOAP family's wire format as the simulated PSP reads and writes it.

Requests are SOAP 1.1 envelopes holding one Adyen operation (``authorise``,
``submitThirdParty``, ``getPaymentStatus``); answers are ``{operation}Response``
elements with ``ns1:``-prefixed children, or SOAP faults. This side plays an
external PSP, so it parses the wire format on its own instead of borrowing the
adapter's code: a mistake in one side then shows up as a failing round trip
rather than cancelling out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from xml.parsers import expat

import xmltodict
from litestar import Response

from adapters.gateways.soap_xml import SafeExpat, child, text
from domain.errors import InvalidInput
from domain.money import Money

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ADYEN_PAYMENT_NS = "http://payment.services.adyen.com"
TRANSACTION_ID_KEY = "transactionId"
# Litestar appends "; charset=utf-8" to text/* media types itself.
MEDIA_TYPE = "text/xml"
# The status inquiry operation and the element names of its request and result.
STATUS_OPERATION = "getPaymentStatus"
STATUS_REQUEST = "statusRequest"
STATUS_RESULT = "statusResult"


@dataclass(frozen=True, slots=True)
class Operation:
    """How one SOAP operation is named on the wire and what it stands for."""

    name: str
    request: str
    result: str
    payment_type: Literal["deposit", "withdrawal", "refund"]
    received: str
    refused: str
    decline_reason: str
    # The result element naming the outcome: a modification says ``response``.
    code_element: str = "resultCode"


OPERATIONS = {
    op.name: op
    for op in (
        Operation(
            name="authorise",
            request="paymentRequest",
            result="paymentResult",
            payment_type="deposit",
            received="Received",
            refused="Refused",
            decline_reason="Insufficient balance on card",
        ),
        Operation(
            name="submitThirdParty",
            request="payoutRequest",
            result="payoutResult",
            payment_type="withdrawal",
            received="[payout-submit-received]",
            refused="[payout-submit-refused]",
            decline_reason="Payout refused",
        ),
        Operation(
            name="refund",
            request="modificationRequest",
            result="refundResult",
            payment_type="refund",
            received="[refund-received]",
            refused="[refund-refused]",
            decline_reason="Refund refused",
            code_element="response",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class PaymentCall:
    """A validated payment request, whatever operation carried it."""

    operation: Operation
    key: str  # idempotency key: the header, else the reference element
    transaction_id: str
    user_id: int
    amount: str  # decimal string in the currency's precision, as the ledger stores it
    currency: str
    original_reference: str | None = None  # a refund: the pspReference it gives back


@dataclass(frozen=True, slots=True)
class StatusCall:
    """A validated status inquiry."""

    reference: str  # the idempotency reference the payment was sent under


class ClientFault(Exception):
    """The request is unusable; answered with a SOAP ``Client`` fault and 400."""


# -- reading requests -------------------------------------------------------------
def _parse_operation(raw: bytes) -> tuple[str, Any]:
    """The operation element's local name and content from a SOAP envelope."""
    try:
        document = xmltodict.parse(
            raw,
            expat=SafeExpat,  # refuses any DTD (XXE, entity expansion)
            process_namespaces=True,
            # Only the two namespaces we serve lose their URI; anything else
            # keeps it and so fails to match, as with a real PSP.
            namespaces={SOAP_ENV_NS: "", ADYEN_PAYMENT_NS: ""},
            disable_entities=True,
            force_list=("entry",),
        )
    except expat.ExpatError as exc:
        raise ClientFault(f"malformed XML: {exc}") from exc
    except ValueError as exc:  # DTDs and entity declarations are refused this way
        raise ClientFault(str(exc)) from exc
    body = child(child(document, "Envelope"), "Body")
    if not isinstance(body, dict):
        raise ClientFault("not a SOAP 1.1 envelope")
    elements = [(name, value) for name, value in body.items() if not name.startswith("@")]
    if len(elements) != 1:
        raise ClientFault("the SOAP body must hold exactly one operation")
    return elements[0]


def read_request(raw: bytes, idempotency_key: str | None) -> PaymentCall | StatusCall:
    """Validate a SOAP request of any operation; raises ClientFault when it is unusable."""
    name, content = _parse_operation(raw)
    if name == STATUS_OPERATION:
        return _read_status_request(content)
    return _read_call(name, content, idempotency_key)


def _read_status_request(content: Any) -> StatusCall:
    """Validate a status inquiry; raises ClientFault when it is unusable."""
    request = child(content, STATUS_REQUEST)
    if not isinstance(request, dict):
        raise ClientFault(f"{STATUS_OPERATION} needs a {STATUS_REQUEST}")
    return StatusCall(reference=_required(request, "reference"))


def _read_call(name: str, content: Any, idempotency_key: str | None) -> PaymentCall:
    """Validate a SOAP payment request; raises ClientFault when it is unusable."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise ClientFault(f"unknown operation {name!r}")
    request = child(content, operation.request)
    if not isinstance(request, dict):
        raise ClientFault(f"{name} needs a {operation.request}")
    reference = _required(request, "reference")
    refund = operation.payment_type == "refund"
    amount_element = child(request, "modificationAmount" if refund else "amount")
    currency = _required(amount_element, "currency")
    try:
        amount = Money.of_minor(_digits(amount_element, "value"), currency)
    except InvalidInput as exc:
        raise ClientFault(f"validation: {exc}") from exc
    transaction_id = _additional_data(request).get(TRANSACTION_ID_KEY) or _missing(
        f"additionalData.{TRANSACTION_ID_KEY}"
    )
    return PaymentCall(
        operation=operation,
        key=idempotency_key or reference,
        transaction_id=transaction_id,
        # A modification names no shopper: the PSP knows it from the payment.
        user_id=0 if refund else _digits(request, "shopperReference"),
        amount=amount.format(),
        currency=currency,
        original_reference=_required(request, "originalReference") if refund else None,
    )


def _additional_data(request: dict[str, Any]) -> dict[str, str]:
    """``additionalData`` entries as a plain dict (xmltodict gives a list of entries)."""
    entries = child(child(request, "additionalData"), "entry") or []
    data: dict[str, str] = {}
    for entry in entries:
        key, value = text(child(entry, "key")), text(child(entry, "value"))
        if key is not None and value is not None:
            data[key] = value
    return data


_DIGITS = re.compile(r"[0-9]{1,18}")


def _digits(node: Any, name: str) -> int:
    # int() alone would also take " 12", "+12" and "1_2".
    value = _required(node, name)
    if not _DIGITS.fullmatch(value):
        raise ClientFault(f"validation: {name} must be a whole number")
    return int(value)


def _required(node: Any, name: str) -> str:
    return text(child(node, name)) or _missing(name)


def _missing(name: str) -> NoReturn:
    raise ClientFault(f"validation: {name} is required")


# -- writing answers ----------------------------------------------------------------
def _envelope(body: dict[str, Any], status: int) -> Response[bytes]:
    document = {"soap:Envelope": {"@xmlns:soap": SOAP_ENV_NS, "soap:Body": body}}
    content: bytes = xmltodict.unparse(document, encoding="utf-8").encode("utf-8")
    return Response(content, status_code=status, media_type=MEDIA_TYPE)


def result(op: Operation, fields: dict[str, str]) -> Response[bytes]:
    """``{op}Response/{result}`` for a payment operation."""
    return soap_result(op.name, op.result, fields)


def soap_result(operation: str, result: str, fields: dict[str, Any]) -> Response[bytes]:
    """``{operation}Response/{result}`` with prefixed elements, as Adyen answers."""
    response = {"@xmlns:ns1": ADYEN_PAYMENT_NS, f"ns1:{result}": _prefixed(fields)}
    return _envelope({f"ns1:{operation}Response": response}, status=200)


def _prefixed(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as ``ns1:``-prefixed elements, nested ones included."""
    return {
        f"ns1:{name}": _prefixed(value) if isinstance(value, dict) else value
        for name, value in fields.items()
    }


def fault(code: Literal["Client", "Server"], message: str, *, status: int) -> Response[bytes]:
    """A SOAP 1.1 fault; ``faultcode`` and ``faultstring`` are unqualified by the spec."""
    return _envelope(
        {"soap:Fault": {"faultcode": f"soap:{code}", "faultstring": message}}, status=status
    )
