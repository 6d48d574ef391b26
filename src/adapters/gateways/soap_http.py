"""Adapter for SOAP/XML gateways (Adyen-like PSPs).

Wire format (served by the sandbox under ``/sandbox/{gateway_id}/soap``):
``POST {base}/soap`` with headers ``Content-Type: text/xml; charset=utf-8``,
``SOAPAction: "<operation>"``, ``Idempotency-Key: <reference>`` and the
merchant credential ``X-API-Key: <key>`` (``PAYMENTS_GATEWAY_KEY_<ID>``, where
Adyen takes its API key; sent on inquiries too), and a SOAP
1.1 envelope whose body holds ``authorise/paymentRequest`` (deposits) or
``submitThirdParty/payoutRequest`` (withdrawals) or Adyen's ``refund``
modification ``refund/modificationRequest`` (refunds: ``originalReference``
is the deposit's ``pspReference``, ``modificationAmount`` the amount; the
answer's ``refundResult/response`` is ``[refund-received]``), in the namespace
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
from collections.abc import Mapping
from typing import Any

import httpx
import xmltodict

from adapters.gateways.classify import transport_failure
from adapters.gateways.soap_answers import (
    OPERATIONS,
    STATUS_OPERATION,
    SoapOperation,
    interpret,
    read_status,
)
from adapters.gateways.soap_xml import SOAP_ENV_NS
from application.ports import (
    GatewayResult,
    GatewayStatus,
    GatewayUnreachable,
    PaymentInstruction,
)
from domain.transaction import TransactionType

log = logging.getLogger(__name__)

ADYEN_PAYMENT_NS = "http://payment.services.adyen.com"
CONTENT_TYPE = "text/xml; charset=utf-8"
# Our merchant account, sent with every request when settings name none other.
DEFAULT_MERCHANT_ACCOUNT = "PaymentsPlatform"
# additionalData key carrying our transaction id (the sandbox echoes it in callbacks).
TRANSACTION_ID_KEY = "transactionId"


class SoapGatewayProvider:
    """One SOAP gateway; classifies every failure instead of raising."""

    def __init__(
        self,
        gateway_id: str,
        base_url: str,
        client: httpx.AsyncClient,
        merchant_account: str = DEFAULT_MERCHANT_ACCOUNT,
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
        operation = OPERATIONS[instruction.type]
        try:
            response = await self._client.post(
                self._url,
                content=_envelope(instruction, operation, self._merchant_account),
                headers={
                    **self._auth,
                    "Content-Type": CONTENT_TYPE,
                    # SOAP 1.1 requires the action as a quoted string.
                    "SOAPAction": f'"{operation.name}"',
                    "Idempotency-Key": instruction.reference,
                },
            )
        except httpx.HTTPError as exc:
            failure = transport_failure(exc)
            log.info("gateway %s %s: %s", self.gateway_id, failure.error_code, type(exc).__name__)
            return failure
        return interpret(response, operation)

    async def inquire(self, reference: str, gateway_reference: str | None = None) -> GatewayStatus:
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
                    "Content-Type": CONTENT_TYPE,
                    "SOAPAction": f'"{STATUS_OPERATION.name}"',
                },
            )
        except httpx.HTTPError as exc:
            log.info("gateway %s inquiry failed: %s", self.gateway_id, type(exc).__name__)
            raise GatewayUnreachable(f"{self.gateway_id}: {type(exc).__name__}") from exc
        return read_status(self.gateway_id, response)


def _envelope(
    instruction: PaymentInstruction, operation: SoapOperation, merchant_account: str
) -> bytes:
    """The SOAP 1.1 request envelope for one payment instruction."""
    amount = {"currency": instruction.currency, "value": str(instruction.amount_minor)}
    additional = {"entry": [{"key": TRANSACTION_ID_KEY, "value": instruction.transaction_id}]}
    if instruction.type is TransactionType.REFUND:
        refund: dict[str, Any] = {
            "merchantAccount": merchant_account,
            "modificationAmount": amount,
            "originalReference": instruction.parent_reference or "",
            "reference": instruction.reference,
            "additionalData": additional,
        }
        return _soap_request(operation, refund)
    body: dict[str, Any] = {
        "amount": amount,
        "merchantAccount": merchant_account,
        "reference": instruction.reference,
        "shopperReference": str(instruction.user_id),
        "additionalData": additional,
    }
    return _soap_request(operation, body)


def _soap_request(operation: SoapOperation, body: Mapping[str, Any]) -> bytes:
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
