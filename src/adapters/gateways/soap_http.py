"""Adapter for SOAP/XML gateways (Adyen-like PSPs).

Wire format (served by the sandbox under ``/sandbox/{gateway_id}/soap``):
``POST {base}/soap`` with headers ``Content-Type: text/xml; charset=utf-8``,
``SOAPAction: "<operation>"``, ``Idempotency-Key: <reference>`` and the
merchant credential ``X-API-Key: <key>`` (``PAYMENTS_GATEWAY_KEY_<ID>``, where
Adyen takes its API key; sent on inquiries too), and a SOAP
1.1 envelope whose body holds ``authorise/paymentRequest`` (deposits) or
``submitThirdParty/payoutRequest`` (withdrawals), in the namespace
``http://payment.services.adyen.com``::

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body>
        <authorise xmlns="http://payment.services.adyen.com">
          <paymentRequest>
            <amount><currency>USD</currency><value>1000</value></amount>
            <merchantAccount>PaymentsPlatform</merchantAccount>
            <reference>tx-1:1</reference>
            <shopperReference>1</shopperReference>
            <additionalData>
              <entry><key>transactionId</key><value>tx-1</value></entry>
            </additionalData>
          </paymentRequest>
        </authorise>
      </soap:Body>
    </soap:Envelope>

The answer is ``{operation}Response`` → ``paymentResult``/``payoutResult`` with
``pspReference``, ``resultCode``, and ``refusalReason`` or ``redirectUrl``;
failures are SOAP 1.1 faults (``faultcode`` ``soap:Server``/``soap:Client``).
Amounts travel as integer minor units, as Adyen's do.

Status inquiry (classic Adyen SOAP has none; modelled on a PSP's "payment
status inquiry"): ``SOAPAction: "getPaymentStatus"``, no Idempotency-Key, body
``getPaymentStatus/statusRequest`` with ``merchantAccount`` and ``reference``
(our idempotency reference), same namespace. The answer is HTTP 200 with
``getPaymentStatusResponse/statusResult`` holding ``pspReference``, ``status``
(processing|completed|failed) and ``amount`` (``currency``, ``value`` in minor
units), or HTTP 404 with a ``Client`` fault when the reference is unknown.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

import httpx
import xmltodict

from adapters.gateways.classify import classify_status, transport_failure
from application.ports import (
    GatewayResult,
    GatewayStatus,
    GatewayUnreachable,
    PaymentInstruction,
)
from domain.errors import InvalidInput
from domain.money import Money
from domain.transaction import AttemptOutcome, TransactionType

log = logging.getLogger(__name__)

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ADYEN_PAYMENT_NS = "http://payment.services.adyen.com"
# additionalData key carrying our transaction id (the sandbox echoes it in callbacks).
TRANSACTION_ID_KEY = "transactionId"

# resultCodes meaning the PSP took the payment (final outcome follows by callback).
_ACCEPTED_CODES = frozenset(
    {"Received", "Authorised", "RedirectShopper", "Pending", "[payout-submit-received]"}
)
# resultCodes meaning a definitive business refusal.
_REFUSED_CODES = frozenset({"Refused", "[payout-submit-refused]"})


@dataclass(frozen=True, slots=True)
class _Operation:
    """Names of one SOAP operation's request and result elements."""

    name: str
    request: str
    result: str


_OPERATIONS: Mapping[TransactionType, _Operation] = {
    TransactionType.DEPOSIT: _Operation("authorise", "paymentRequest", "paymentResult"),
    TransactionType.WITHDRAWAL: _Operation("submitThirdParty", "payoutRequest", "payoutResult"),
}
STATUS_OPERATION = _Operation("getPaymentStatus", "statusRequest", "statusResult")
# The only statuses an inquiry may report; anything else is not a usable answer.
INQUIRY_STATUSES = frozenset({"processing", "completed", "failed"})


class SoapGatewayProvider:
    """One SOAP gateway; classifies every failure instead of raising."""

    def __init__(
        self,
        gateway_id: str,
        base_url: str,
        client: httpx.AsyncClient,
        merchant_account: str = "PaymentsPlatform",
        merchant_key: str | None = None,
    ) -> None:
        self.gateway_id = gateway_id
        self._url = f"{base_url.rstrip('/')}/soap"
        self._client = client
        self._merchant_account = merchant_account
        # Without a key nothing is sent, and the PSP refuses the call (401).
        self._auth = {"X-API-Key": merchant_key} if merchant_key else {}

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        """Send the payment and classify the answer (never raises for gateway trouble)."""
        operation = _OPERATIONS[instruction.type]
        try:
            response = await self._client.post(
                self._url,
                content=_envelope(instruction, operation, self._merchant_account),
                headers={
                    **self._auth,
                    "Content-Type": "text/xml; charset=utf-8",
                    # SOAP 1.1 requires the action as a quoted string.
                    "SOAPAction": f'"{operation.name}"',
                    "Idempotency-Key": instruction.reference,
                },
            )
        except httpx.HTTPError as exc:
            failure = transport_failure(exc)
            log.info("gateway %s %s: %s", self.gateway_id, failure.error_code, type(exc).__name__)
            return failure
        return _interpret(response, operation)

    async def inquire(self, reference: str) -> GatewayStatus:
        """Ask the PSP what became of the payment sent under ``reference``.

        Raises GatewayUnreachable unless the answer is a readable status result
        or a 404 ``Client`` fault (unknown reference).
        """
        request = {"merchantAccount": self._merchant_account, "reference": reference}
        try:
            response = await self._client.post(
                self._url,
                content=_soap_request(STATUS_OPERATION, request),
                # No Idempotency-Key: an inquiry changes nothing at the PSP.
                headers={
                    **self._auth,
                    "Content-Type": "text/xml; charset=utf-8",
                    "SOAPAction": f'"{STATUS_OPERATION.name}"',
                },
            )
        except httpx.HTTPError as exc:
            log.info("gateway %s inquiry failed: %s", self.gateway_id, type(exc).__name__)
            raise GatewayUnreachable(f"{self.gateway_id}: {type(exc).__name__}") from exc
        return _read_status(self.gateway_id, response)


def _envelope(
    instruction: PaymentInstruction, operation: _Operation, merchant_account: str
) -> bytes:
    """The SOAP 1.1 request envelope for one payment instruction."""
    body: dict[str, Any] = {
        "amount": {"currency": instruction.currency, "value": str(instruction.amount_minor)},
        "merchantAccount": merchant_account,
        "reference": instruction.reference,
        "shopperReference": str(instruction.user_id),
        "additionalData": {
            "entry": [{"key": TRANSACTION_ID_KEY, "value": instruction.transaction_id}]
        },
    }
    return _soap_request(operation, body)


def _soap_request(operation: _Operation, body: Mapping[str, Any]) -> bytes:
    """A SOAP 1.1 envelope holding ``{operation}/{request}`` with the given children."""
    envelope = {
        "soap:Envelope": {
            "@xmlns:soap": SOAP_ENV_NS,
            "soap:Body": {
                # A default namespace on the operation qualifies every element
                # below it, as Adyen's WSDL (elementFormDefault="qualified") wants.
                operation.name: {"@xmlns": ADYEN_PAYMENT_NS, operation.request: body},
            },
        }
    }
    encoded: bytes = xmltodict.unparse(envelope, encoding="utf-8").encode("utf-8")
    return encoded


# -- reading answers ------------------------------------------------------------
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


class _SafeExpat:
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
            expat=_SafeExpat,
            process_namespaces=True,
            namespaces=_DropNamespaces(),
            disable_entities=True,
        )
    # Malformed XML, entities, DTDs; LookupError: an encoding expat does not know.
    except (expat.ExpatError, ValueError, LookupError):
        return None
    body = _child(_child(document, "Envelope"), "Body")
    return body if isinstance(body, dict) else None


def _interpret(response: httpx.Response, operation: _Operation) -> GatewayResult:
    body = parse_soap_body(response.content)
    # SOAP 1.1 sends faults with 500 (some servers use 400); any other error
    # status says more than a fault could: 503 "nothing processed", 502/504 a
    # proxy gave up while the PSP may have acted, 429 "slow down".
    if not response.is_success and response.status_code not in (400, 500):
        return _status_result(response, body)
    fault = _fault_result(body)
    if fault is not None:
        return fault
    if not response.is_success:
        return _status_result(response, body)
    return _result_from_body(body, operation)


def _status_result(response: httpx.Response, body: dict[str, Any] | None) -> GatewayResult:
    fault = _child(body, "Fault")
    return GatewayResult(
        outcome=classify_status(response.status_code),
        error_code=f"http_{response.status_code}",
        message=_text(_child(fault, "faultstring")) or response.reason_phrase,
    )


def _fault_result(body: dict[str, Any] | None) -> GatewayResult | None:
    """Classify a SOAP fault: Server → transient, Client → declined, else None."""
    fault = _child(body, "Fault")
    if fault is None:
        return None
    code = _fault_code(fault)
    reason = _text(_child(fault, "faultstring")) or "SOAP fault"
    if code == "Server":
        # The PSP failed before accepting; the same reference may be retried.
        return GatewayResult(
            outcome=AttemptOutcome.TRANSIENT,
            error_code=snake_case(reason, default="server_fault"),
            message=reason,
        )
    if code == "Client":
        return GatewayResult(
            outcome=AttemptOutcome.DECLINED,
            error_code=snake_case(reason, default="client_fault"),
            message=reason,
        )
    return None


def _result_from_body(body: dict[str, Any] | None, operation: _Operation) -> GatewayResult:
    result = _child(_child(body, f"{operation.name}Response"), operation.result)
    result_code = _text(_child(result, "resultCode"))
    psp_reference = _text(_child(result, "pspReference"))
    if result_code in _REFUSED_CODES:
        reason = _text(_child(result, "refusalReason")) or "Refused"
        return GatewayResult(
            outcome=AttemptOutcome.DECLINED,
            reference_id=psp_reference,
            error_code=snake_case(reason, default="refused"),
            message=reason,
        )
    if result_code in _ACCEPTED_CODES and psp_reference:
        return GatewayResult(
            outcome=AttemptOutcome.ACCEPTED,
            reference_id=psp_reference,
            redirect_url=_text(_child(result, "redirectUrl")),
            completed=result_code == "Authorised",
        )
    # It answered 2xx but not in a way we understand: the payment may exist.
    return GatewayResult(
        outcome=AttemptOutcome.AMBIGUOUS,
        reference_id=psp_reference,
        error_code="bad_response",
        message=f"unexpected resultCode {result_code!r}" if result_code else None,
    )


def _fault_code(fault: Any) -> str:
    """The fault's class: ``Server``, ``Client``, or whatever else it says."""
    # faultcode is a QName ("soap:Server", "soapenv:Client.Validation"), so
    # look at its local part and ignore Adyen-style dotted sub-codes.
    return (_text(_child(fault, "faultcode")) or "").rpartition(":")[2].split(".")[0]


_MINOR_UNITS = re.compile(r"[0-9]{1,18}")


def _read_status(gateway_id: str, response: httpx.Response) -> GatewayStatus:
    """Read a status inquiry answer; raises GatewayUnreachable when it is not usable."""
    body = parse_soap_body(response.content)
    fault = _child(body, "Fault")
    if response.status_code == 404:
        # Only the PSP's own "unknown reference" counts as "never received":
        # a bare 404 (wrong URL, a proxy) says nothing about the payment.
        if fault is not None and _fault_code(fault) == "Client":
            return GatewayStatus(found=False)
        raise GatewayUnreachable(f"{gateway_id}: HTTP 404 without a Client fault")
    if response.status_code != 200 or fault is not None:
        reason = _text(_child(fault, "faultstring")) or response.reason_phrase
        raise GatewayUnreachable(f"{gateway_id}: HTTP {response.status_code} {reason}")
    result = _child(_child(body, f"{STATUS_OPERATION.name}Response"), STATUS_OPERATION.result)
    psp_reference = _text(_child(result, "pspReference"))
    status = _text(_child(result, "status"))
    currency = _text(_child(_child(result, "amount"), "currency"))
    value = _text(_child(_child(result, "amount"), "value"))
    if psp_reference is None or status not in INQUIRY_STATUSES:
        raise GatewayUnreachable(f"{gateway_id}: unusable status result ({status!r})")
    if currency is None or value is None or not _MINOR_UNITS.fullmatch(value):
        raise GatewayUnreachable(f"{gateway_id}: status result without a valid amount")
    try:
        money = Money.of_minor(int(value), currency)
    except InvalidInput as exc:
        raise GatewayUnreachable(f"{gateway_id}: status result amount: {exc}") from exc
    return GatewayStatus(
        found=True,
        status=status,
        reference_id=psp_reference,
        amount_minor=money.minor,
        currency=money.currency.code,
    )


def _child(node: Any, name: str) -> Any:
    """``node[name]`` when node is an element with children, else None."""
    return node.get(name) if isinstance(node, dict) else None


def _text(node: Any) -> str | None:
    """Text of a leaf element, also when it carries attributes (``xsi:type``)."""
    if isinstance(node, dict):
        node = node.get("#text")
    return node if isinstance(node, str) and node else None


_NON_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(text: str, *, default: str) -> str:
    """A stable error code from a PSP's human-readable reason ("CVC Declined" → "cvc_declined")."""
    code = _NON_WORD.sub("_", text.lower()).strip("_")[:64].rstrip("_")
    return code or default
