"""Reading the SOAP family's answers: results, faults and status inquiries.

The operations and result codes are Adyen's; see ``soap_http.py`` for the
wire format. Every failure is classified into an outcome, never raised, except
by :func:`read_status`, whose caller needs "no usable answer" as an exception.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.gateways.classify import classify_status
from adapters.gateways.soap_xml import child, parse_soap_body, snake_case, text
from application.ports import GatewayResult, GatewayStatus, GatewayUnreachable
from domain.errors import InvalidInput
from domain.money import Money
from domain.transaction import AttemptOutcome, TransactionType

# resultCodes meaning the PSP took the payment (final outcome follows by callback).
# A modification (refund) answers ``response`` instead of ``resultCode``.
_ACCEPTED_CODES = frozenset(
    {
        "Received",
        "Authorised",
        "RedirectShopper",
        "Pending",
        "[payout-submit-received]",
        "[refund-received]",
    }
)
# resultCodes meaning a definitive business refusal.
_REFUSED_CODES = frozenset({"Refused", "[payout-submit-refused]", "[refund-refused]"})


@dataclass(frozen=True, slots=True)
class SoapOperation:
    """Names of one SOAP operation's request and result elements."""

    name: str
    request: str
    result: str


OPERATIONS: Mapping[TransactionType, SoapOperation] = {
    TransactionType.DEPOSIT: SoapOperation("authorise", "paymentRequest", "paymentResult"),
    TransactionType.WITHDRAWAL: SoapOperation("submitThirdParty", "payoutRequest", "payoutResult"),
    # Adyen's refund modification of an authorised payment.
    TransactionType.REFUND: SoapOperation("refund", "modificationRequest", "refundResult"),
}
STATUS_OPERATION = SoapOperation("getPaymentStatus", "statusRequest", "statusResult")
# The only statuses an inquiry may report; anything else is not a usable answer.
INQUIRY_STATUSES = frozenset({"processing", "completed", "failed"})


def interpret(response: httpx.Response, operation: SoapOperation) -> GatewayResult:
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
    fault = child(body, "Fault")
    return GatewayResult(
        outcome=classify_status(response.status_code),
        error_code=f"http_{response.status_code}",
        message=text(child(fault, "faultstring")) or response.reason_phrase,
    )


def _fault_result(body: dict[str, Any] | None) -> GatewayResult | None:
    """Classify a SOAP fault: Server → transient, Client → declined, else None."""
    fault = child(body, "Fault")
    if fault is None:
        return None
    code = _fault_code(fault)
    reason = text(child(fault, "faultstring")) or "SOAP fault"
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


def _result_from_body(body: dict[str, Any] | None, operation: SoapOperation) -> GatewayResult:
    result = child(child(body, f"{operation.name}Response"), operation.result)
    result_code = text(child(result, "resultCode")) or text(child(result, "response"))
    psp_reference = text(child(result, "pspReference"))
    if result_code in _REFUSED_CODES:
        reason = text(child(result, "refusalReason")) or "Refused"
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
            redirect_url=text(child(result, "redirectUrl")),
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
    return (text(child(fault, "faultcode")) or "").rpartition(":")[2].split(".")[0]


_MINOR_UNITS = re.compile(r"[0-9]{1,18}")


def read_status(gateway_id: str, response: httpx.Response) -> GatewayStatus:
    """Read a status inquiry answer; raises GatewayUnreachable when it is not usable."""
    body = parse_soap_body(response.content)
    fault = child(body, "Fault")
    if response.status_code == 404:
        # Only the PSP's own "unknown reference" counts as "never received":
        # a bare 404 (wrong URL, a proxy) says nothing about the payment.
        if fault is not None and _fault_code(fault) == "Client":
            return GatewayStatus(found=False)
        raise GatewayUnreachable(f"{gateway_id}: HTTP 404 without a Client fault")
    if response.status_code != 200 or fault is not None:
        reason = text(child(fault, "faultstring")) or response.reason_phrase
        raise GatewayUnreachable(f"{gateway_id}: HTTP {response.status_code} {reason}")
    result = child(child(body, f"{STATUS_OPERATION.name}Response"), STATUS_OPERATION.result)
    psp_reference = text(child(result, "pspReference"))
    status = text(child(result, "status"))
    currency = text(child(child(result, "amount"), "currency"))
    value = text(child(child(result, "amount"), "value"))
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
