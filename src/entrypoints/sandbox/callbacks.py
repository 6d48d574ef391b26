"""The sandbox PSPs' outgoing side: settle payments and send signed callbacks.

After ``callback_delay_ms`` a recorded payment takes its ``final_status`` (what
a status inquiry then reports) and, unless the answer to the original request
was lost (mode ``timeout``), a signed callback is POSTed to the service like a
real PSP would: JSON gateways with a Stripe-style ``X-Signature``, SOAP
gateways with an Adyen ``sendNotification`` envelope. Each names what it
settles, as the service requires: the PSP's reference, the amount and currency
(JSON) and the merchant account (SOAP). Non-2xx answers and network errors are
retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx

from adapters.gateways.callbacks import DEFAULT_MERCHANT_ACCOUNT
from adapters.gateways.signing_json import SIGNATURE_HEADER, sign_json
from adapters.gateways.signing_soap import NotificationItem, build_notification, sign_adyen_item
from domain.money import Money
from entrypoints.sandbox.psp import Behaviour, PspGateway, SandboxPayment

log = logging.getLogger(__name__)

MAX_DELIVERIES = 8


class CallbackSender:
    def __init__(
        self,
        target_base_url: str,
        secrets: Mapping[str, Sequence[str]],
        *,
        max_deliveries: int = MAX_DELIVERIES,
        backoff_s: float = 0.2,
        client: httpx.AsyncClient | None = None,
        merchant_account: str = DEFAULT_MERCHANT_ACCOUNT,
    ) -> None:
        self._target = target_base_url.rstrip("/")
        self._merchant_account = merchant_account  # the one our SOAP adapter sends
        self._secrets = secrets
        self._max = max_deliveries
        self._backoff_s = backoff_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = client

    def schedule(self, gw: PspGateway, payment: SandboxPayment, *, send: bool) -> None:
        """Settle (and maybe notify) later, with the behaviour in force now."""
        task = asyncio.get_running_loop().create_task(
            self._settle(gw, payment, gw.behaviour, send), name=f"callback-{payment.psp_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _settle(
        self, gw: PspGateway, payment: SandboxPayment, behaviour: Behaviour, send: bool
    ) -> None:
        await asyncio.sleep(behaviour.callback_delay_ms / 1000)
        gw.settle(payment, behaviour.final_status)
        if send:
            await self._deliver(gw, payment)

    async def _deliver(self, gw: PspGateway, payment: SandboxPayment) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5, trust_env=False)
        url = f"{self._target}/callback/{gw.id}"
        event_id = f"evt_{uuid.uuid4().hex}"  # one event, however often it is retried
        for attempt in range(self._max):
            body, headers = self._message(gw, payment, event_id)
            try:
                response = await self._client.post(url, content=body, headers=headers)
                if response.is_success:
                    gw.count_callback(delivered=True)
                    return
                log.info("callback to %s answered %s", url, response.status_code)
            except httpx.HTTPError as exc:
                log.info("callback to %s failed: %s", url, type(exc).__name__)
            await asyncio.sleep(min(5.0, self._backoff_s * 2**attempt))
        gw.count_callback(delivered=False)

    def _message(
        self, gw: PspGateway, payment: SandboxPayment, event_id: str
    ) -> tuple[bytes, dict[str, str]]:
        secrets = list(self._secrets.get(gw.id, ()))
        if gw.format == "soap":
            item = NotificationItem(
                psp_reference=payment.psp_id,
                original_reference="",
                merchant_account=self._merchant_account,
                merchant_reference=payment.transaction_id,
                value=Money.parse(payment.amount, payment.currency).minor,
                currency=payment.currency,
                event_code="AUTHORISATION" if payment.type == "deposit" else "PAYOUT_THIRDPARTY",
                success=payment.status == "completed",
                reason="" if payment.status == "completed" else "Refused by the issuer",
                event_date=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            if secrets:
                item = sign_adyen_item(item, secrets[0])
            return build_notification([item]), {"Content-Type": "text/xml; charset=utf-8"}
        body = json.dumps(
            {
                "event_id": event_id,
                "transaction_id": payment.transaction_id,
                "reference_id": payment.psp_id,
                "amount": payment.amount,
                "currency": payment.currency,
                "status": payment.status,
                "message": "Payment successful"
                if payment.status == "completed"
                else "Payment failed at the gateway",
            }
        ).encode()
        # Signed afresh on every delivery, as Stripe does: the timestamp is the send time.
        signature = sign_json(body, secrets, int(time.time()))
        return body, {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
