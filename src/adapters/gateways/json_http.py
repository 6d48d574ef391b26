"""Adapter for JSON-over-HTTP gateways (PayPal/Stripe-like PSPs).

Wire format (served by the sandbox under ``/sandbox/{gateway_id}``):
``POST {base}/payments`` with header ``Idempotency-Key: <reference>`` and body
``{"reference","transaction_id","type","amount","currency","user_id"}``;
2xx answers ``{"id","status","redirect_url"?}``, refusals answer
``{"error": {"code","message"}}`` with a 4xx status.
"""

from __future__ import annotations

import logging

import httpx
import msgspec

from adapters.gateways.classify import classify_exception, classify_status
from application.ports import GatewayResult, PaymentInstruction
from domain.transaction import AttemptOutcome

log = logging.getLogger(__name__)


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


_accepted = msgspec.json.Decoder(_Accepted)
_refusal = msgspec.json.Decoder(_Refusal)


class JsonGatewayProvider:
    """One JSON gateway; classifies every failure instead of raising."""

    def __init__(self, gateway_id: str, base_url: str, client: httpx.AsyncClient) -> None:
        self.gateway_id = gateway_id
        self._base_url = base_url.rstrip("/")
        self._client = client

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        body = {
            "reference": instruction.reference,
            "transaction_id": instruction.transaction_id,
            "type": instruction.type.value,
            "amount": instruction.amount,
            "currency": instruction.currency,
            "user_id": instruction.user_id,
        }
        try:
            response = await self._client.post(
                f"{self._base_url}/payments",
                content=msgspec.json.encode(body),
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": instruction.reference,
                },
            )
        except httpx.HTTPError as exc:
            outcome, code = classify_exception(exc)
            log.info("gateway %s %s: %s", self.gateway_id, code, type(exc).__name__)
            return GatewayResult(outcome=outcome, error_code=code)
        return self._interpret(response)

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
