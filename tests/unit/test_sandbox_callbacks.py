"""The sandbox PSP sends signed callbacks and retries like a real PSP."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import stripe

from adapters.gateways.signing_json import verify_json
from adapters.gateways.signing_soap import verify_adyen_item
from adapters.gateways.soap_notification import parse_notification
from entrypoints.sandbox.callbacks import CallbackSender
from entrypoints.sandbox.psp import Behaviour, PaymentOrder, Sandbox

SECRET = "whsec_sandbox"
HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


def recorder(statuses: list[int]) -> tuple[list[httpx.Request], httpx.AsyncClient]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(statuses[min(len(seen), len(statuses)) - 1])

    return seen, httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def pay(sandbox: Sandbox, gateway: str, kind: str = "deposit") -> None:
    gw = sandbox.gateways[gateway]
    order = PaymentOrder("tx-1:1", "tx-1", kind, "12.50", "EUR", 3)
    gw.record(order, gw.behaviour.for_request().mode)


def make(statuses: list[int]) -> tuple[Sandbox, CallbackSender, list[httpx.Request]]:
    seen, client = recorder(statuses)
    sender = CallbackSender(
        "http://api.test", {"paypal": [SECRET], "adyen": [HEX]}, backoff_s=0.001, client=client
    )
    sandbox = Sandbox(
        {"paypal": "json", "adyen": "soap"},
        on_new_payment=lambda gw, p, mode: sender.schedule(gw, p, send=mode != "timeout"),
    )
    for gw in sandbox.gateways.values():
        gw.behaviour = Behaviour(callback_delay_ms=1)
    return sandbox, sender, seen


async def settle(sender: CallbackSender) -> None:
    await asyncio.sleep(0.2)
    await sender.aclose()


async def test_json_callbacks_are_signed_the_stripe_way() -> None:
    sandbox, sender, seen = make([200])
    await pay(sandbox, "paypal")
    await settle(sender)
    (request,) = seen
    assert request.url == "http://api.test/callback/paypal"
    body = json.loads(request.content)
    assert (body["transaction_id"], body["status"]) == ("tx-1", "completed")
    header = request.headers["x-signature"]
    verify_json(header, request.content, [SECRET], now=time.time())
    assert stripe.WebhookSignature.verify_header(request.content.decode(), header, SECRET, 300)
    assert sandbox.gateways["paypal"].payments["tx-1:1"].status == "completed"


async def test_non_2xx_answers_are_retried_with_the_same_event() -> None:
    sandbox, sender, seen = make([500, 503, 200])
    await pay(sandbox, "paypal")
    await settle(sender)
    assert len(seen) == 3
    assert len({json.loads(r.content)["event_id"] for r in seen}) == 1
    assert sandbox.gateways["paypal"].callbacks_delivered == 1


async def test_soap_notifications_carry_a_valid_adyen_hmac() -> None:
    sandbox, sender, seen = make([200])
    await pay(sandbox, "adyen", kind="withdrawal")
    await settle(sender)
    (item,) = parse_notification(seen[0].content)
    verify_adyen_item(item, [HEX])
    assert (item.event_code, item.value, item.currency, item.merchant_reference) == (
        "PAYOUT_THIRDPARTY",
        1250,
        "EUR",
        "tx-1",
    )


async def test_timeout_mode_settles_but_sends_nothing() -> None:
    sandbox, sender, seen = make([200])
    sandbox.gateways["paypal"].behaviour = Behaviour(mode="timeout", callback_delay_ms=1)
    await pay(sandbox, "paypal")
    await settle(sender)
    assert seen == []
    assert sandbox.gateways["paypal"].payments["tx-1:1"].status == "completed"
