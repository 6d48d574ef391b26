"""The sandbox PSPs' callbacks name what they settle: amount, currency, our merchant account."""

from __future__ import annotations

import json

import httpx

from adapters.gateways.soap_http import DEFAULT_MERCHANT_ACCOUNT
from adapters.gateways.soap_notification import parse_notification
from entrypoints.sandbox.callbacks import CallbackSender
from entrypoints.sandbox.psp import Behaviour, Sandbox
from tests.unit.test_sandbox_callbacks import HEX, SECRET, pay, recorder, settle


def sandbox_sending(
    merchant_account: str = DEFAULT_MERCHANT_ACCOUNT,
) -> tuple[Sandbox, CallbackSender, list[httpx.Request]]:
    seen, client = recorder([200])
    sender = CallbackSender(
        "http://api.test",
        {"paypal": [SECRET], "adyen": [HEX]},
        client=client,
        merchant_account=merchant_account,
    )
    sandbox = Sandbox(
        {"paypal": "json", "adyen": "soap"},
        on_new_payment=lambda gw, p, mode: sender.schedule(gw, p, send=mode != "timeout"),
    )
    for gw in sandbox.gateways.values():
        gw.behaviour = Behaviour(callback_delay_ms=1)
    return sandbox, sender, seen


async def test_json_callbacks_state_the_amount_and_currency_they_settle() -> None:
    sandbox, sender, seen = sandbox_sending()
    await pay(sandbox, "paypal")
    await settle(sender)
    (request,) = seen
    body = json.loads(request.content)
    psp_id = sandbox.gateways["paypal"].payments["tx-1:1"].psp_id
    assert (body["reference_id"], body["amount"], body["currency"]) == (psp_id, "12.50", "EUR")


async def test_soap_notifications_name_the_merchant_account_they_are_configured_with() -> None:
    sandbox, sender, seen = sandbox_sending("OurShop")
    await pay(sandbox, "adyen")
    await settle(sender)
    (request,) = seen
    [item] = parse_notification(request.content)
    assert (item.merchant_account, item.value, item.currency) == ("OurShop", 1250, "EUR")
