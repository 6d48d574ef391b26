"""The webhook sender: Stripe's signature scheme, proven with Stripe's own library."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe

from adapters.webhooks.sender import EVENT_ID_HEADER, SIGNATURE_HEADER, HttpWebhookSender
from domain.errors import InvalidInput

SECRET = "whsec_unit_0123456789"
BODY = '{"event_id":"e1","type":"transaction.completed","data":{"note":"café"}}'.encode()
NOW = 1_700_000_000


def sender_answering(status: int, seen: list[httpx.Request]) -> HttpWebhookSender:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers={"Location": "http://10.0.0.1/"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), follow_redirects=False)
    return HttpWebhookSender(client, now=lambda: NOW)


async def test_the_signature_is_what_stripe_verifies() -> None:
    seen: list[httpx.Request] = []
    result = await sender_answering(204, seen).send("https://p.example/h", SECRET, "e1", BODY)
    assert result.delivered
    assert result.status_code == 204
    (request,) = seen
    assert request.content == BODY
    assert request.headers[EVENT_ID_HEADER] == "e1"
    assert request.headers["content-type"] == "application/json"
    header = request.headers[SIGNATURE_HEADER]
    assert header.startswith(f"t={NOW},v1=")
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode(), header, "whsec_other", tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode() + " ", header, SECRET, tolerance=None)


@pytest.mark.parametrize("status", [302, 404, 500, 503])
async def test_anything_but_2xx_is_not_delivered_and_redirects_are_not_followed(
    status: int,
) -> None:
    seen: list[httpx.Request] = []
    result = await sender_answering(status, seen).send("https://p.example/h", SECRET, "e1", BODY)
    assert not result.delivered
    assert result.status_code == status
    assert len(seen) == 1


async def test_a_timeout_or_refusal_is_no_status_and_never_raises() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    result = await HttpWebhookSender(client).send("https://p.example/h", SECRET, "e1", BODY)
    assert result.status_code is None
    assert not result.delivered
    assert result.error is not None
    assert "ConnectError" in result.error


async def test_a_target_refused_at_send_time_is_not_contacted() -> None:
    seen: list[httpx.Request] = []

    class Refusing:
        async def check(self, url: str) -> None:
            raise InvalidInput("internal address")

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    result = await HttpWebhookSender(client, Refusing()).send("http://x/", SECRET, "e1", BODY)
    assert result.status_code is None
    assert seen == []


async def test_a_server_that_trickles_its_answer_is_cut_off_at_the_total_timeout() -> None:
    async def trickle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    client = httpx.AsyncClient(transport=httpx.MockTransport(trickle))
    sender = HttpWebhookSender(client, total_timeout_s=0.05)
    result = await sender.send("https://p.example/h", SECRET, "e1", BODY)
    assert result.status_code is None
    assert result.latency_ms < 1000
