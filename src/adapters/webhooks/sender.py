"""POST an event to a platform's endpoint, signed with Stripe's scheme.

``Payments-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``
is exactly what ``stripe.WebhookSignature.verify_header`` checks, so a
platform can verify it with Stripe's libraries (see signing_json.py).
During a secret roll's overlap the header carries one ``v1`` per secret.
Redirects are not followed (a 3xx is a failure, retried): a redirect could
point the signed body at a host the target guard would refuse.

When the target guard pins an address, the request goes to that IP and
never resolves the name again (DNS rebinding): ``Host`` keeps the URL's
host and, over https, TLS sends the hostname as SNI and verifies the
certificate against it (httpcore's ``sni_hostname`` request extension).
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

    async def send(
        self, url: str, secret: str, event_id: str, body: bytes, previous: str | None = None
    ) -> SendResult:
        started = time.perf_counter()
        try:
            # Checked again at send time: the name may resolve elsewhere now.
            address = None if self._targets is None else await self._targets.check(url)
            secrets = [secret] if previous is None else [secret, previous]
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                EVENT_ID_HEADER: event_id,
                SIGNATURE_HEADER: sign_json(body, secrets, int(self._now())),
            }
            target, extensions = pinned(url, address, headers)
            # httpx's timeout is per phase (a server trickling bytes resets
            # it); this bounds the whole attempt, which the lease relies on.
            async with asyncio.timeout(self._total_timeout_s):
                response = await self._client.post(
                    target, content=body, headers=headers, extensions=extensions
                )
        except Exception as exc:  # timeout, refused, reset, refused target: retried later
            return SendResult(None, _ms(started), f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        return SendResult(response.status_code, _ms(started))


def pinned(
    url: str, address: str | None, headers: dict[str, str]
) -> tuple[httpx.URL, dict[str, str]]:
    """The URL to request and its extensions: to ``address`` when one is pinned.

    Sets ``Host`` in ``headers`` to the URL's host[:port]; httpx brackets an
    IPv6 address in the URL itself.
    """
    original = httpx.URL(url)
    if address is None:
        return original, {}
    headers["Host"] = original.netloc.decode("ascii")
    extensions = {"sni_hostname": original.raw_host.decode("ascii")}
    return original.copy_with(host=address), extensions if original.scheme == "https" else {}


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
