"""Adapter for JSON-over-HTTP gateways (PayPal/Stripe-like PSPs).

Wire format (served by the sandbox under ``/sandbox/{gateway_id}``): every
call carries the merchant credential as ``Authorization: Bearer <key>``
(``PAYMENTS_GATEWAY_KEY_<ID>``, like a Stripe secret key).
``POST {base}/payments`` with header ``Idempotency-Key: <reference>`` and body
``{"reference","transaction_id","type","amount","currency","user_id"}``;
2xx answers ``{"id","status","redirect_url"?}``, refusals answer
``{"error": {"code","message"}}`` with a 4xx status.

Refunds: ``POST {base}/refunds`` with the same headers and body
``{"reference","transaction_id","payment_id","amount","currency"}``
(``payment_id``: the PSP's id of the deposit given back), answered like a
payment; the refund then has its own ``id``, status inquiry and callback.

Status inquiry: ``GET {base}/payments/{reference}`` (reference URL-quoted)
answers 200 ``{"id","reference","status","amount","currency",...}`` with
``status`` one of processing|completed|failed and ``amount`` a decimal string,
or 404 when the gateway never received that reference.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import msgspec

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

CONTENT_TYPE = "application/json"


class _Accepted(msgspec.Struct):
    id: str
    status: str = "processing"
    redirect_url: str | None = None
    message: str | None = None


class _ErrorBody(msgspec.Struct):
    code: str = "declined"
    message: str = "Declined by the gateway"


class _Refusal(msgspec.Struct):
    error: _ErrorBody = msgspec.field(default_factory=_ErrorBody)


class _Payment(msgspec.Struct):
    """The fields of a status inquiry answer we act on (others are ignored)."""

    id: str
    status: str
    amount: str
    currency: str
    reference: str | None = None


_accepted = msgspec.json.Decoder(_Accepted)
_refusal = msgspec.json.Decoder(_Refusal)
_payment = msgspec.json.Decoder(_Payment)

# The only statuses an inquiry may report; anything else is not a usable answer.
INQUIRY_STATUSES = frozenset({"processing", "completed", "failed"})


class JsonGatewayProvider:
    """One JSON gateway; classifies every failure instead of raising."""

    def __init__(
        self,
        gateway_id: str,
        base_url: str,
        client: httpx.AsyncClient,
        merchant_key: str | None = None,
    ) -> None:
        self.gateway_id = gateway_id
        self._base_url = base_url.rstrip("/")
        self._client = client
        # Without a key nothing is sent, and the PSP refuses the call (401).
        self._auth = {"Authorization": f"Bearer {merchant_key}"} if merchant_key else {}

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        path, body = _request(instruction)
        try:
            response = await self._client.post(
                f"{self._base_url}/{path}",
                content=msgspec.json.encode(body),
                headers={
                    **self._auth,
                    "Content-Type": CONTENT_TYPE,
                    "Idempotency-Key": instruction.reference,
                },
            )
        except httpx.HTTPError as exc:
            failure = transport_failure(exc)
            log.info("gateway %s %s: %s", self.gateway_id, failure.error_code, type(exc).__name__)
            return failure
        return self._interpret(response)

    async def inquire(self, reference: str, gateway_reference: str | None = None) -> GatewayStatus:
        """Ask the gateway what became of the payment sent under ``reference``.

        Raises GatewayUnreachable unless the answer is a readable 200 or the
        gateway's own "payment_not_found" (a bare 404 may be a wrong URL or a
        proxy, and "never received" must not be concluded from that).
        """
        # safe="": our references contain ':' and must stay one path segment.
        url = f"{self._base_url}/payments/{quote(reference, safe='')}"
        try:
            response = await self._client.get(
                url, headers={**self._auth, "Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            log.info("gateway %s inquiry failed: %s", self.gateway_id, type(exc).__name__)
            raise GatewayUnreachable(f"{self.gateway_id}: {type(exc).__name__}") from exc
        if response.status_code == 404 and _refusal_code(response.content) == "payment_not_found":
            return GatewayStatus(found=False)
        if response.status_code != 200:
            raise GatewayUnreachable(f"{self.gateway_id}: HTTP {response.status_code}")
        return self._read_payment(response.content, reference)

    def _read_payment(self, content: bytes, reference: str) -> GatewayStatus:
        try:
            payment = _payment.decode(content)
            money = Money.parse(payment.amount, payment.currency)
        except (msgspec.DecodeError, InvalidInput) as exc:
            raise GatewayUnreachable(f"{self.gateway_id}: unreadable status answer") from exc
        if payment.status not in INQUIRY_STATUSES:
            raise GatewayUnreachable(f"{self.gateway_id}: unknown status {payment.status!r}")
        # An answer about another payment would be worse than no answer.
        if payment.reference is not None and payment.reference != reference:
            raise GatewayUnreachable(f"{self.gateway_id}: answer for another reference")
        return GatewayStatus(
            found=True,
            status=payment.status,
            reference_id=payment.id,
            amount_minor=money.minor,
            currency=money.currency.code,
        )

    def _interpret(self, response: httpx.Response) -> GatewayResult:
        if response.is_success:
            try:
                accepted = _accepted.decode(response.content)
            except msgspec.DecodeError:
                # It said yes but we cannot read how: the payment may exist.
                return GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="bad_response")
            return GatewayResult(
                outcome=AttemptOutcome.ACCEPTED,
                reference_id=accepted.id,
                redirect_url=accepted.redirect_url,
                completed=accepted.status == "completed",
                message=accepted.message,
            )
        outcome = classify_status(response.status_code)
        try:
            error = _refusal.decode(response.content).error
        except msgspec.DecodeError:
            error = _ErrorBody(code=f"http_{response.status_code}", message=response.reason_phrase)
        return GatewayResult(outcome=outcome, error_code=error.code, message=error.message)


def _request(instruction: PaymentInstruction) -> tuple[str, dict[str, object]]:
    """Where the instruction goes and what it says: a refund, or a payment."""
    if instruction.type is TransactionType.REFUND:
        return "refunds", {
            "reference": instruction.reference,
            "transaction_id": instruction.transaction_id,
            "payment_id": instruction.parent_reference,
            "amount": instruction.amount,
            "currency": instruction.currency,
        }
    return "payments", {
        "reference": instruction.reference,
        "transaction_id": instruction.transaction_id,
        "type": instruction.type.value,
        "amount": instruction.amount,
        "currency": instruction.currency,
        "user_id": instruction.user_id,
    }


def _refusal_code(content: bytes) -> str | None:
    try:
        return _refusal.decode(content).error.code
    except msgspec.DecodeError:
        return None
