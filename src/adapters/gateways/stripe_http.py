"""Adapter for Stripe's own API (the ``stripe_api`` family): PaymentIntents and Refunds.

- Deposits: ``POST {base}/v1/payment_intents`` (form-encoded, ``stripe_wire.py``)
  with ``Idempotency-Key: <our attempt reference>``; the PaymentIntent's id is
  the gateway reference, its ``client_secret`` (or redirect) what the payer needs.
- Refunds: ``POST {base}/v1/refunds`` naming the deposit's PaymentIntent.
- Status inquiry: ``GET {base}/v1/payment_intents/{id}`` (``/v1/refunds/{id}``
  for a refund). An attempt whose answer was lost has no id: its
  PaymentIntent is searched for by ``metadata['reference']``
  (``GET /v1/payment_intents/search``). Stripe's search lags behind writes and
  cannot find refunds, so finding nothing stays unknown (GatewayUnreachable),
  never "never received".

The secret key travels as ``Authorization: Bearer sk_…``. Refusals are Stripe
error objects (``stripe_errors.py``); answers without HTTP are classified as
for every family (``classify.py``). Payouts are not offered (``stripe_family.py``).
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import msgspec

from adapters.gateways.classify import transport_failure
from adapters.gateways.stripe_errors import classify_error, read_error
from adapters.gateways.stripe_wire import (
    FORM,
    PAYMENT_INTENTS,
    REFERENCE_KEY,
    REFUNDS,
    SEARCH,
    StripeObject,
    decode_object,
    decode_search,
    payment_intent_form,
    refund_form,
    search_query,
)
from application.ports import GatewayResult, GatewayStatus, GatewayUnreachable, PaymentInstruction
from domain.errors import InvalidInput
from domain.transaction import AttemptOutcome, TransactionType

log = logging.getLogger(__name__)

_NOT_OFFERED = GatewayResult(
    outcome=AttemptOutcome.NOT_SENT,
    error_code="operation_not_offered",
    message="Stripe's PaymentIntents API does not pay out",
)

_NO_PAYMENT_INTENT = GatewayResult(
    outcome=AttemptOutcome.NOT_SENT,
    error_code="no_payment_intent",
    message="The deposit has no Stripe PaymentIntent to refund",
)


class StripeProvider:
    """One Stripe account; classifies every failure instead of raising."""

    def __init__(
        self,
        gateway_id: str,
        base_url: str,
        client: httpx.AsyncClient,
        secret_key: str | None = None,
    ) -> None:
        self.gateway_id = gateway_id
        self._base_url = base_url.rstrip("/")
        self._client = client
        # Without a key nothing is sent, and Stripe refuses the call (401).
        self._auth = {"Authorization": f"Bearer {secret_key}"} if secret_key else {}

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        if instruction.type is TransactionType.REFUND:
            if not instruction.parent_reference:
                return _NO_PAYMENT_INTENT
            path, kind, form = REFUNDS, "refund", refund_form(instruction)
        elif instruction.type is TransactionType.DEPOSIT:
            path, kind, form = PAYMENT_INTENTS, "payment_intent", payment_intent_form(instruction)
        else:
            return _NOT_OFFERED  # routing never sends one; nothing leaves us if it does
        try:
            response = await self._client.post(
                f"{self._base_url}/{path}",
                content=form,
                headers={
                    **self._auth,
                    "Content-Type": FORM,
                    "Idempotency-Key": instruction.reference,
                },
            )
        except httpx.HTTPError as exc:
            failure = transport_failure(exc)
            log.info("gateway %s %s: %s", self.gateway_id, failure.error_code, type(exc).__name__)
            return failure
        if not response.is_success:
            return classify_error(response.status_code, response.content)
        return _accepted(response.content, kind)

    async def inquire(self, reference: str, gateway_reference: str | None = None) -> GatewayStatus:
        """What Stripe says of the object it created for ``reference``.

        Raises GatewayUnreachable without its id, without a readable 200, or
        for an answer about another payment; Stripe's ``resource_missing``
        404 is the one "never received".
        """
        if not gateway_reference:
            gateway_reference = await self._search(reference)
        path = REFUNDS if gateway_reference.startswith("re_") else PAYMENT_INTENTS
        url = f"{self._base_url}/{path}/{quote(gateway_reference, safe='')}"
        try:
            response = await self._client.get(url, headers=self._auth)
        except httpx.HTTPError as exc:
            log.info("gateway %s inquiry failed: %s", self.gateway_id, type(exc).__name__)
            raise GatewayUnreachable(f"{self.gateway_id}: {type(exc).__name__}") from exc
        if response.status_code == 404:
            error = read_error(response.content)
            if error is not None and error.code == "resource_missing":
                return GatewayStatus(found=False)
        if response.status_code != 200:
            raise GatewayUnreachable(f"{self.gateway_id}: HTTP {response.status_code}")
        return self._status(response.content, reference, gateway_reference)

    async def _search(self, reference: str) -> str:
        """The id of the PaymentIntent sent under ``reference``; GatewayUnreachable if none."""
        try:
            response = await self._client.get(
                f"{self._base_url}/{SEARCH}",
                params={"query": search_query(reference)},
                headers=self._auth,
            )
        except httpx.HTTPError as exc:
            raise GatewayUnreachable(f"{self.gateway_id}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise GatewayUnreachable(f"{self.gateway_id}: search HTTP {response.status_code}")
        try:
            found = decode_search(response.content)
        except msgspec.DecodeError as exc:
            raise GatewayUnreachable(f"{self.gateway_id}: unreadable search answer") from exc
        ours = [o.id for o in found if o.metadata.get(REFERENCE_KEY) == reference]
        if len(ours) != 1:
            raise GatewayUnreachable(f"{self.gateway_id}: no Stripe object found for {reference}")
        return ours[0]

    def _status(self, content: bytes, reference: str, gateway_reference: str) -> GatewayStatus:
        try:
            found = decode_object(content)
            money = found.money()
        except (msgspec.DecodeError, InvalidInput) as exc:
            raise GatewayUnreachable(f"{self.gateway_id}: unreadable status answer") from exc
        # An answer about another payment would be worse than no answer.
        stated = found.metadata.get(REFERENCE_KEY)
        if found.id != gateway_reference or (stated is not None and stated != reference):
            raise GatewayUnreachable(f"{self.gateway_id}: answer for another payment")
        return GatewayStatus(
            found=True,
            status=found.final_status,
            reference_id=found.id,
            amount_minor=money.minor,
            currency=money.currency.code,
        )


def _accepted(content: bytes, kind: str) -> GatewayResult:
    try:
        created: StripeObject = decode_object(content)
    except msgspec.DecodeError:
        # It said yes but we cannot read how: the payment may exist.
        return GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="bad_response")
    if created.object != kind:
        return GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="unexpected_object")
    if created.final_status == "failed":
        return GatewayResult(
            outcome=AttemptOutcome.DECLINED,
            reference_id=created.id,
            error_code=f"{kind}_{created.status}",
            message=f"Stripe reports the {kind.replace('_', ' ')} {created.status}",
        )
    return GatewayResult(
        outcome=AttemptOutcome.ACCEPTED,
        reference_id=created.id,
        redirect_url=created.redirect_url,
        client_secret=created.client_secret,
        completed=created.final_status == "completed",
        message="Transaction is being processed",
    )
