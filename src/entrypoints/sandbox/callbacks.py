"""The sandbox PSPs' outgoing side: settle payments and send signed callbacks.

After ``callback_delay_ms`` a recorded payment takes its ``final_status`` (what
a status inquiry then reports) and, unless the answer to the original request
was lost (mode ``timeout``), a signed callback is POSTed to the service like a
real PSP would, in the gateway's wire family (``families.py``): JSON gateways
with a Stripe-style ``X-Signature``, SOAP gateways with an Adyen
``sendNotification`` envelope. Each names what it settles, as the service
requires: the PSP's reference, the amount and currency (JSON) and the merchant
account (SOAP). Non-2xx answers and network errors are retried with
exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence

import httpx

from adapters.gateways.soap_http import DEFAULT_MERCHANT_ACCOUNT
from entrypoints.sandbox.families import SIMULATED_FAMILIES
from entrypoints.sandbox.family import SettledPayment
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
        settled = SettledPayment(
            payment=payment,
            event_id=event_id,
            secrets=list(self._secrets.get(gw.id, ())),
            merchant_account=self._merchant_account,
        )
        return SIMULATED_FAMILIES[gw.format].callback(settled)
