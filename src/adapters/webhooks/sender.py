"""POST an event to a platform's endpoint, signed with Stripe's scheme.

``Payments-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
is exactly what ``stripe.WebhookSignature.verify_header`` checks, so a
platform can verify it with Stripe's libraries (see signing_json.py).
Redirects are not followed (a 3xx is a failure, retried): a redirect could
point the signed body at a host the target guard would refuse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx

from adapters.gateways.signing_json import sign_json
from application.ports import SendResult, WebhookTargets

SIGNATURE_HEADER = "Payments-Signature"
EVENT_ID_HEADER = "Payments-Event-Id"
USER_AGENT = "payments-webhooks/1"
MAX_ERROR = 200


class HttpWebhookSender:
    """WebhookSender over one pooled httpx client with a short total timeout."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        targets: WebhookTargets | None = None,
        now: Callable[[], float] = time.time,
        total_timeout_s: float = 5.0,
    ) -> None:
        self._client = client
        self._targets = targets
        self._now = now
        self._total_timeout_s = total_timeout_s

    async def send(self, url: str, secret: str, event_id: str, body: bytes) -> SendResult:
        started = time.perf_counter()
        try:
            if self._targets is not None:
                # Checked again at send time: the name may resolve elsewhere now.
                await self._targets.check(url)
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                EVENT_ID_HEADER: event_id,
                SIGNATURE_HEADER: sign_json(body, [secret], int(self._now())),
            }
            # httpx's timeout is per phase (a server trickling bytes resets
            # it); this bounds the whole attempt, which the lease relies on.
            async with asyncio.timeout(self._total_timeout_s):
                response = await self._client.post(url, content=body, headers=headers)
        except Exception as exc:  # timeout, refused, reset, refused target: retried later
            return SendResult(None, _ms(started), f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        return SendResult(response.status_code, _ms(started))


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def webhook_client_resource(timeout_s: float) -> AsyncIterator[httpx.AsyncClient]:
    """The sender's client: its own pool, so webhooks never take a gateway connection."""
    timeout = httpx.Timeout(timeout_s)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=20)
    async with httpx.AsyncClient(
        timeout=timeout, limits=limits, trust_env=False, follow_redirects=False
    ) as client:
        yield client
