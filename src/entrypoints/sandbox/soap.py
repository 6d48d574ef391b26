"""HTTP face of the SOAP sandbox PSPs (Adyen-like), at ``/sandbox/{gateway_id}/soap``.

One endpoint takes SOAP 1.1 envelopes and dispatches on the operation element
in the body: ``authorise`` (a deposit, ``paymentRequest``) or
``submitThirdParty`` (a payout, ``payoutRequest``). It honours the gateway's
``Behaviour`` like the JSON sandbox (``app.py``) and shares its ledger, so the
control routes (behaviour, ledger, status inquiry) serve both families.

``getPaymentStatus`` (``statusRequest/reference``) is the PSP's status
inquiry: it answers ``getPaymentStatusResponse/statusResult`` (``pspReference``,
``status``, ``amount`` in minor units), or a ``Client`` fault with HTTP 404
for an unknown reference. Of the behaviour modes only ``down`` applies to it,
and it counts in ``lookups``, not ``requests``.

Every call (payments and inquiries alike) must carry the gateway's merchant
credential in ``X-API-Key: <PAYMENTS_GATEWAY_KEY_<ID>>``, as Adyen's API key
travels; without it the answer is a ``Client`` fault with HTTP 401, given
before the envelope is read, and nothing is recorded or called back.

This module plays an external PSP, so it parses the wire format on its own
instead of borrowing the adapter's code: a mistake in one side then shows up
as a failing round trip rather than cancelling out.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from xml.parsers import expat

import xmltodict
from litestar import Controller, Request, Response, post
from litestar.exceptions import NotFoundException

from domain.errors import InvalidInput
from domain.money import Money
from entrypoints.sandbox.app import HANG_SECONDS, GatewayId, reset_midway
from entrypoints.sandbox.merchant import REFUSAL, is_merchant, soap_credential
from entrypoints.sandbox.psp import Gateways, PspGateway

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ADYEN_PAYMENT_NS = "http://payment.services.adyen.com"
TRANSACTION_ID_KEY = "transactionId"
# Litestar appends "; charset=utf-8" to text/* media types itself.
_MEDIA_TYPE = "text/xml"
# The status inquiry operation and the element names of its request and result.
STATUS_OPERATION = "getPaymentStatus"
_STATUS_REQUEST = "statusRequest"
_STATUS_RESULT = "statusResult"


@dataclass(frozen=True, slots=True)
class _Operation:
    """How one SOAP operation is named on the wire and what it stands for."""

    name: str
    request: str
    result: str
    payment_type: Literal["deposit", "withdrawal"]
    received: str
    refused: str
    decline_reason: str


_OPERATIONS = {
    op.name: op
    for op in (
        _Operation(
            name="authorise",
            request="paymentRequest",
            result="paymentResult",
            payment_type="deposit",
            received="Received",
            refused="Refused",
            decline_reason="Insufficient balance on card",
        ),
        _Operation(
            name="submitThirdParty",
            request="payoutRequest",
            result="payoutResult",
            payment_type="withdrawal",
            received="[payout-submit-received]",
            refused="[payout-submit-refused]",
            decline_reason="Payout refused",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class _PaymentCall:
    """A validated payment request, whatever operation carried it."""

    operation: _Operation
    key: str  # idempotency key: the header, else the reference element
    transaction_id: str
    user_id: int
    amount: str  # decimal string in the currency's precision, as the ledger stores it
    currency: str


@dataclass(frozen=True, slots=True)
class _StatusCall:
    """A validated status inquiry."""

    reference: str  # the idempotency reference the payment was sent under


class _ClientFault(Exception):
    """The request is unusable; answered with a SOAP ``Client`` fault and 400."""


def soap_controller(sandbox: Gateways) -> type[Controller]:
    """Build the SOAP controller bound to one set of sandbox gateways."""

    def gateway(gateway_id: str) -> PspGateway:
        gw = sandbox.get(gateway_id)
        # A JSON gateway has no SOAP endpoint, as a real PSP would not.
        if gw is None or gw.format != "soap":
            raise NotFoundException(f"no SOAP sandbox gateway {gateway_id!r}")
        return gw

    class SandboxSoapController(Controller):
        path = "/sandbox/{gateway_id:str}/soap"
        tags = ["sandbox"]
        security = [{}]

        @post("/", operation_id="sandboxSoap", status_code=200)
        async def soap(
            self, gateway_id: GatewayId, request: Request[Any, Any, Any]
        ) -> Response[bytes]:
            """SOAP PSP: authorise / submitThirdParty (idempotent) and getPaymentStatus."""
            gw = gateway(gateway_id)
            if not is_merchant(gw.merchant_key, soap_credential(request.headers)):
                return _fault("Client", REFUSAL, status=401)
            try:
                call = _read_request(await request.body(), request.headers.get("idempotency-key"))
            except _ClientFault as exc:
                return _fault("Client", str(exc), status=400)
            if isinstance(call, _StatusCall):
                gw.count_lookup()
                return _status_answer(gw, call.reference)
            gw.count_request()
            return await _answer(gw, call)

    return SandboxSoapController


async def _answer(gw: PspGateway, call: _PaymentCall) -> Response[Any]:
    """Apply the gateway's behaviour to one valid call, like the JSON handler."""
    behaviour = gw.behaviour.for_request()
    op = call.operation
    if behaviour.latency_ms:
        await asyncio.sleep(behaviour.latency_ms / 1000)
    if behaviour.mode == "down":
        return _fault("Server", "Gateway is temporarily unavailable", status=503)
    if behaviour.mode == "error":
        return _fault("Server", "Internal gateway error", status=500)
    if behaviour.mode == "decline":
        return _result(op, {"resultCode": op.refused, "refusalReason": op.decline_reason})
    existing = gw.find(call.key)
    if existing is not None and (existing.amount, existing.currency) != (
        call.amount,
        call.currency,
    ):
        return _result(op, {"resultCode": op.refused, "refusalReason": "Idempotency key reused"})
    payment, _ = gw.record(
        reference=call.key,
        transaction_id=call.transaction_id,
        type=op.payment_type,
        amount=call.amount,
        currency=call.currency,
        user_id=call.user_id,
        mode=behaviour.mode,
    )
    if behaviour.mode == "timeout":
        # The payment exists, but the answer never arrives in time. Read at
        # call time (a module global), so tests can shorten the hang.
        await asyncio.sleep(HANG_SECONDS)
    fields: dict[str, str] = {"pspReference": payment.psp_id, "resultCode": op.received}
    redirect_url = gw.redirect_url(payment)
    if redirect_url is not None:
        fields["redirectUrl"] = redirect_url
    answer = _result(op, fields)
    if behaviour.mode == "reset":
        content: bytes = answer.content
        return reset_midway(content, _MEDIA_TYPE)
    return answer


def _status_answer(gw: PspGateway, reference: str) -> Response[bytes]:
    """Answer a status inquiry; of the behaviour modes, only ``down`` applies.

    A PSP's reporting API usually stays up through trouble on its payment
    path (errors, declines, hangs), but a gateway that is down answers nothing.
    """
    if gw.behaviour.mode == "down":
        return _fault("Server", "Gateway is temporarily unavailable", status=503)
    payment = gw.find(reference)
    if payment is None:
        return _fault("Client", "Unknown reference", status=404)
    minor = Money.parse(payment.amount, payment.currency).minor
    fields = {
        "pspReference": payment.psp_id,
        "status": payment.status,
        "amount": {"currency": payment.currency, "value": str(minor)},
    }
    return _soap_result(STATUS_OPERATION, _STATUS_RESULT, fields)


# -- reading requests -------------------------------------------------------------
def _refuse_doctype(*_args: object) -> None:
    raise _ClientFault("DTDs are not accepted")


class _NoDoctypeExpat:
    """Stands in for the ``expat`` module so xmltodict's parser refuses any DTD.

    Catching the DOCTYPE in the parser (not by searching the bytes) also
    covers UTF-16 documents and external DTD references.
    """

    @staticmethod
    def ParserCreate(  # mirrors the name xmltodict calls on the expat module
        encoding: str | None = None, namespace_separator: str | None = None
    ) -> expat.XMLParserType:
        parser = expat.ParserCreate(encoding, namespace_separator)
        parser.StartDoctypeDeclHandler = _refuse_doctype
        return parser


def _parse_operation(raw: bytes) -> tuple[str, Any]:
    """The operation element's local name and content from a SOAP envelope."""
    try:
        document = xmltodict.parse(
            raw,
            expat=_NoDoctypeExpat,
            process_namespaces=True,
            # Only the two namespaces we serve lose their URI; anything else
            # keeps it and so fails to match, as with a real PSP.
            namespaces={SOAP_ENV_NS: "", ADYEN_PAYMENT_NS: ""},
            disable_entities=True,
            force_list=("entry",),
        )
    except expat.ExpatError as exc:
        raise _ClientFault(f"malformed XML: {exc}") from exc
    except ValueError as exc:  # xmltodict refuses entity declarations this way
        raise _ClientFault(str(exc)) from exc
    body = _child(_child(document, "Envelope"), "Body")
    if not isinstance(body, dict):
        raise _ClientFault("not a SOAP 1.1 envelope")
    elements = [(name, value) for name, value in body.items() if not name.startswith("@")]
    if len(elements) != 1:
        raise _ClientFault("the SOAP body must hold exactly one operation")
    return elements[0]


def _read_request(raw: bytes, idempotency_key: str | None) -> _PaymentCall | _StatusCall:
    """Validate a SOAP request of any operation; raises _ClientFault when it is unusable."""
    name, content = _parse_operation(raw)
    if name == STATUS_OPERATION:
        return _read_status_request(content)
    return _read_call(name, content, idempotency_key)


def _read_status_request(content: Any) -> _StatusCall:
    """Validate a status inquiry; raises _ClientFault when it is unusable."""
    request = _child(content, _STATUS_REQUEST)
    if not isinstance(request, dict):
        raise _ClientFault(f"{STATUS_OPERATION} needs a {_STATUS_REQUEST}")
    return _StatusCall(reference=_required(request, "reference"))


def _read_call(name: str, content: Any, idempotency_key: str | None) -> _PaymentCall:
    """Validate a SOAP payment request; raises _ClientFault when it is unusable."""
    operation = _OPERATIONS.get(name)
    if operation is None:
        raise _ClientFault(f"unknown operation {name!r}")
    request = _child(content, operation.request)
    if not isinstance(request, dict):
        raise _ClientFault(f"{name} needs a {operation.request}")
    reference = _required(request, "reference")
    currency = _required(_child(request, "amount"), "currency")
    try:
        amount = Money.of_minor(_digits(_child(request, "amount"), "value"), currency)
    except InvalidInput as exc:
        raise _ClientFault(f"validation: {exc}") from exc
    transaction_id = _additional_data(request).get(TRANSACTION_ID_KEY) or _missing(
        f"additionalData.{TRANSACTION_ID_KEY}"
    )
    return _PaymentCall(
        operation=operation,
        key=idempotency_key or reference,
        transaction_id=transaction_id,
        user_id=_digits(request, "shopperReference"),
        amount=amount.format(),
        currency=currency,
    )


def _additional_data(request: dict[str, Any]) -> dict[str, str]:
    """``additionalData`` entries as a plain dict (xmltodict gives a list of entries)."""
    entries = _child(_child(request, "additionalData"), "entry") or []
    data: dict[str, str] = {}
    for entry in entries:
        key, value = _text(_child(entry, "key")), _text(_child(entry, "value"))
        if key is not None and value is not None:
            data[key] = value
    return data


_DIGITS = re.compile(r"[0-9]{1,18}")


def _digits(node: Any, name: str) -> int:
    # int() alone would also take " 12", "+12" and "1_2".
    text = _required(node, name)
    if not _DIGITS.fullmatch(text):
        raise _ClientFault(f"validation: {name} must be a whole number")
    return int(text)


def _required(node: Any, name: str) -> str:
    return _text(_child(node, name)) or _missing(name)


def _missing(name: str) -> NoReturn:
    raise _ClientFault(f"validation: {name} is required")


def _child(node: Any, name: str) -> Any:
    return node.get(name) if isinstance(node, dict) else None


def _text(node: Any) -> str | None:
    """Text of a leaf element, also when it carries attributes (``xsi:type``)."""
    if isinstance(node, dict):
        node = node.get("#text")
    return node if isinstance(node, str) and node else None


# -- writing answers ----------------------------------------------------------------
def _envelope(body: dict[str, Any], status: int) -> Response[bytes]:
    document = {"soap:Envelope": {"@xmlns:soap": SOAP_ENV_NS, "soap:Body": body}}
    content: bytes = xmltodict.unparse(document, encoding="utf-8").encode("utf-8")
    return Response(content, status_code=status, media_type=_MEDIA_TYPE)


def _result(op: _Operation, fields: dict[str, str]) -> Response[bytes]:
    """``{op}Response/{result}`` for a payment operation."""
    return _soap_result(op.name, op.result, fields)


def _soap_result(operation: str, result: str, fields: dict[str, Any]) -> Response[bytes]:
    """``{operation}Response/{result}`` with prefixed elements, as Adyen answers."""
    response = {"@xmlns:ns1": ADYEN_PAYMENT_NS, f"ns1:{result}": _prefixed(fields)}
    return _envelope({f"ns1:{operation}Response": response}, status=200)


def _prefixed(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as ``ns1:``-prefixed elements, nested ones included."""
    return {
        f"ns1:{name}": _prefixed(value) if isinstance(value, dict) else value
        for name, value in fields.items()
    }


def _fault(code: Literal["Client", "Server"], message: str, *, status: int) -> Response[bytes]:
    """A SOAP 1.1 fault; ``faultcode`` and ``faultstring`` are unqualified by the spec."""
    return _envelope(
        {"soap:Fault": {"faultcode": f"soap:{code}", "faultstring": message}}, status=status
    )
