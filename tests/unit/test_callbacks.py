"""Receiving and applying callbacks through the real wiring, in memory."""

from __future__ import annotations

import json
import time

import pytest
from dependency_injector import providers

from adapters.gateways.callbacks import CallbackVerifierRegistry
from adapters.gateways.json_callbacks import JsonCallbackVerifier
from adapters.gateways.signing_json import sign_json
from adapters.gateways.signing_soap import NotificationItem, sign_adyen_item
from adapters.gateways.soap_callbacks import AdyenCallbackVerifier
from adapters.gateways.soap_notification import build_notification
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.deposit import DepositCommand
from application.ports import GatewayCallback
from domain.errors import InvalidSignature, MalformedCallback, NotFound
from domain.ledger import AccountKind
from domain.transaction import Transaction, TransactionStatus
from tests.unit.conftest import World

SECRET = "whsec_test"
HEX_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


@pytest.fixture
def receiving(world: World) -> World:
    world.container.verifiers.override(
        providers.Object(
            CallbackVerifierRegistry(
                {
                    "paypal": JsonCallbackVerifier("paypal", [SECRET]),
                    "stripe": JsonCallbackVerifier("stripe", [SECRET]),
                    "adyen": AdyenCallbackVerifier("adyen", [HEX_KEY]),
                }
            )
        )
    )
    return world


def json_callback(
    tx_id: str,
    status: str = "completed",
    event_id: str = "evt_1",
    reference_id: str = "R",
    **extra: str,
) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "transaction_id": tx_id,
            "status": status,
            "reference_id": reference_id,
            **extra,
        }
    ).encode()


def signed(body: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    return {"x-signature": sign_json(body, [secret], int(at or time.time()))}


async def deposit(world: World, user_id: int = 1, currency: str = "USD") -> Transaction:
    return await world.container.deposit().execute(DepositCommand(user_id, "10.00", currency))


async def apply(world: World, callback: GatewayCallback) -> str:
    """Deliver a callback the way the worker gets it: stored in the inbox first."""
    async with MemoryUnitOfWork(world.store) as uow:
        await uow.inbox.add(callback, b"raw")
        await uow.commit()
    [status] = await world.container.apply_callbacks().execute([callback])
    return status


async def receive(world: World, gateway: str, body: bytes, headers: dict[str, str]) -> int:
    received = await world.container.receive_callback().execute(gateway, headers, body)
    return received.new


async def test_a_verified_callback_is_stored_and_queued_once(receiving: World) -> None:
    tx = await deposit(receiving)
    body = json_callback(tx.id)
    assert await receive(receiving, "paypal", body, signed(body)) == 1
    assert await receive(receiving, "paypal", body, signed(body)) == 0
    assert len(receiving.store.callbacks_out) == 1
    assert receiving.store.inbox[("paypal", "evt_1")].raw_body == body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-signature": "garbage"},
        {"x-signature": sign_json(b"{}", [SECRET], int(time.time()))},
    ],
)
async def test_unsigned_or_forged_callbacks_store_nothing(
    receiving: World, headers: dict[str, str]
) -> None:
    tx = await deposit(receiving)
    with pytest.raises(InvalidSignature):
        await receive(receiving, "paypal", json_callback(tx.id), headers)
    assert receiving.store.inbox == {}
    assert receiving.store.callbacks_out == []


async def test_a_wrong_secret_or_stale_timestamp_is_refused(receiving: World) -> None:
    tx = await deposit(receiving)
    body = json_callback(tx.id)
    with pytest.raises(InvalidSignature):
        await receive(receiving, "paypal", body, signed(body, secret="whsec_other"))
    with pytest.raises(InvalidSignature):
        await receive(receiving, "paypal", body, signed(body, at=time.time() - 301))
    assert receiving.store.inbox == {}


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"event_id":"e","transaction_id":"t","status":"maybe"}', b""],
)
async def test_a_signed_but_malformed_body_is_refused(receiving: World, body: bytes) -> None:
    with pytest.raises(MalformedCallback):
        await receive(receiving, "paypal", body, signed(body))
    assert receiving.store.inbox == {}


async def test_an_unknown_gateway_is_not_found(receiving: World) -> None:
    body = json_callback("t")
    with pytest.raises(NotFound):
        await receive(receiving, "nope", body, signed(body))


async def test_applying_completes_once_and_credits_once(receiving: World) -> None:
    tx = await deposit(receiving)
    callback = GatewayCallback("paypal", "evt_1", tx.id, "completed", tx.reference_id, "paid")
    apply = receiving.container.apply_callbacks()
    # Redelivered message: the inbox says it was applied, nothing happens again.
    body = json_callback(tx.id)
    await receive(receiving, "paypal", body, signed(body))
    assert [(await apply.execute([callback]))[0] for _ in range(5)] == ["applied"] * 5
    assert receiving.store.transactions[tx.id].status is TransactionStatus.COMPLETED
    assert receiving.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000
    again = GatewayCallback("paypal", "evt_2", tx.id, "completed", tx.reference_id, "paid again")
    assert await apply.execute([again]) == ["duplicate"]
    assert receiving.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000


async def test_a_contradicting_callback_is_flagged_not_applied(receiving: World) -> None:
    tx = await deposit(receiving)
    ref = tx.reference_id
    await apply(receiving, GatewayCallback("paypal", "e1", tx.id, "completed", ref, "paid"))
    status = await apply(receiving, GatewayCallback("paypal", "e2", tx.id, "failed", ref, "no"))
    assert status == "flagged"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.COMPLETED
    assert "gateway says failed" in receiving.store.inbox[("paypal", "e2")].detail


@pytest.mark.parametrize(
    ("callback_gateway", "amount", "currency", "why"),
    [
        ("stripe", None, None, "never asked"),
        ("paypal", 999, "USD", "amount mismatch"),
        ("paypal", 1000, "EUR", "amount mismatch"),
    ],
)
async def test_callbacks_that_do_not_match_the_transaction_are_flagged(
    receiving: World, callback_gateway: str, amount: int | None, currency: str | None, why: str
) -> None:
    tx = await deposit(receiving)
    ref = tx.reference_id
    cb = GatewayCallback(callback_gateway, "e", tx.id, "completed", ref, "paid", amount, currency)
    assert await apply(receiving, cb) == "flagged"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert why in receiving.store.inbox[(callback_gateway, "e")].detail


async def test_a_callback_for_an_unknown_transaction_is_flagged(receiving: World) -> None:
    cb = GatewayCallback("paypal", "e", "no-such-tx", "completed", "X", "paid")
    assert await apply(receiving, cb) == "flagged"
    assert receiving.store.inbox[("paypal", "e")].detail == "unknown transaction"


async def test_adyen_notifications_verify_and_apply(receiving: World) -> None:
    tx = await deposit(receiving, user_id=3, currency="EUR")
    assert tx.gateway_id == "adyen"
    assert tx.reference_id is not None
    item = NotificationItem(
        psp_reference=tx.reference_id,
        original_reference="",
        merchant_account="PaymentsPlatform",
        merchant_reference=tx.id,
        value=1000,
        currency="EUR",
        event_code="AUTHORISATION",
        success=True,
    )
    body = build_notification([sign_adyen_item(item, HEX_KEY)])
    assert await receive(receiving, "adyen", body, {}) == 1
    callback = receiving.store.callbacks_out[0]
    assert (callback.status, callback.amount_minor, callback.event_id) == (
        "completed",
        1000,
        f"{tx.reference_id}:AUTHORISATION:true",
    )
    assert await receiving.container.apply_callbacks().execute([callback]) == ["applied"]
    assert receiving.store.transactions[tx.id].status is TransactionStatus.COMPLETED


async def test_an_unsigned_adyen_item_rejects_the_notification(receiving: World) -> None:
    item = NotificationItem("AD-1", "", "PaymentsPlatform", "t", 1000, "EUR", "AUTHORISATION", True)
    with pytest.raises(InvalidSignature):
        await receive(receiving, "adyen", build_notification([item]), {})
    assert receiving.store.inbox == {}


# -- a callback settles only the attempt the gateway accepted ------------------------
async def receive_and_apply(world: World, gateway: str, body: bytes, event_id: str) -> str:
    """Receive a callback, apply whatever was queued, and say how its inbox row ended."""
    headers = signed(body) if gateway != "adyen" else {}
    assert await receive(world, gateway, body, headers) == 1
    queued = [c for c in world.store.callbacks_out if c.event_id == event_id]
    if queued:
        await world.container.apply_callbacks().execute(queued)
    return world.store.inbox[(gateway, event_id)].status


def issue_kinds(world: World, tx_id: str) -> list[str]:
    return [i.kind for i in world.store.issues if i.transaction_id == tx_id]


async def test_a_signed_callback_naming_another_gateway_reference_is_flagged_not_applied(
    receiving: World,
) -> None:
    tx = await deposit(receiving)
    body = json_callback(tx.id, reference_id="paypal-someone-elses-payment")
    assert await receive_and_apply(receiving, "paypal", body, "evt_1") == "flagged"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert receiving.store.balances.get((1, "USD", AccountKind.AVAILABLE), 0) == 0
    assert issue_kinds(receiving, tx.id) == ["callback:evt_1"]
    assert "reference" in receiving.store.inbox[("paypal", "evt_1")].detail


async def test_a_callback_without_a_reference_does_not_settle_an_accepted_payment(
    receiving: World,
) -> None:
    tx = await deposit(receiving)
    body = json.dumps({"event_id": "evt_1", "transaction_id": tx.id, "status": "completed"})
    assert await receive_and_apply(receiving, "paypal", body.encode(), "evt_1") == "flagged"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("9.99", "USD"), ("10.01", "USD"), ("10.00", "EUR"), ("10", "JPY"), ("10.00", "XXX")],
)
async def test_a_signed_json_callback_for_another_amount_or_currency_is_flagged_not_applied(
    receiving: World, amount: str, currency: str
) -> None:
    tx = await deposit(receiving)
    assert tx.reference_id is not None
    body = json_callback(tx.id, reference_id=tx.reference_id, amount=amount, currency=currency)
    assert await receive_and_apply(receiving, "paypal", body, "evt_1") == "flagged"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert receiving.store.balances.get((1, "USD", AccountKind.AVAILABLE), 0) == 0
    assert issue_kinds(receiving, tx.id) == ["callback:evt_1"]


@pytest.mark.parametrize("amount", ["10.001", "0", "0.00", "1000000000000000000"])
async def test_a_json_amount_no_payment_of_ours_can_have_is_flagged_on_receipt(
    receiving: World, amount: str
) -> None:
    tx = await deposit(receiving)
    assert tx.reference_id is not None
    body = json_callback(tx.id, reference_id=tx.reference_id, amount=amount, currency="USD")
    assert await receive(receiving, "paypal", body, signed(body)) == 1
    assert receiving.store.callbacks_out == []  # never queued for applying
    assert receiving.store.inbox[("paypal", "evt_1")].status == "flagged"
    assert issue_kinds(receiving, tx.id) == ["callback:evt_1"]
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING


@pytest.mark.parametrize(
    "extra",
    [
        {"amount": "10.00"},  # an amount means nothing without its currency
        {"amount": "-10.00", "currency": "USD"},
        {"amount": "1e1", "currency": "USD"},
        {"amount": " 10.00", "currency": "USD"},
        {"amount": "1_0.00", "currency": "USD"},
        {"amount": "\u0661\u0660", "currency": "USD"},
        {"amount": "10.", "currency": "USD"},
        {"amount": "10.00", "currency": "usd"},
        {"amount": "10.00", "currency": "US"},
        {"amount": 10, "currency": "USD"},
    ],
)
async def test_a_json_callback_with_a_malformed_amount_or_currency_is_refused(
    receiving: World, extra: dict[str, object]
) -> None:
    tx = await deposit(receiving)
    body = json.dumps(
        {"event_id": "e", "transaction_id": tx.id, "status": "completed", **extra}
    ).encode()
    with pytest.raises(MalformedCallback):
        await receive(receiving, "paypal", body, signed(body))
    assert receiving.store.inbox == {}


async def test_a_json_callback_stating_our_amount_and_currency_settles(receiving: World) -> None:
    tx = await deposit(receiving)
    assert tx.reference_id is not None
    body = json_callback(tx.id, reference_id=tx.reference_id, amount="10.00", currency="USD")
    assert await receive_and_apply(receiving, "paypal", body, "evt_1") == "applied"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.COMPLETED
    assert receiving.store.balances[(1, "USD", AccountKind.AVAILABLE)] == 1000


async def test_a_json_callback_without_amount_and_currency_still_settles(receiving: World) -> None:
    tx = await deposit(receiving)
    assert tx.reference_id is not None
    body = json_callback(tx.id, reference_id=tx.reference_id)
    assert await receive_and_apply(receiving, "paypal", body, "evt_1") == "applied"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.COMPLETED


def adyen_item(tx: Transaction, **changes: object) -> bytes:
    assert tx.reference_id is not None
    fields: dict[str, object] = {
        "psp_reference": tx.reference_id,
        "original_reference": "",
        "merchant_account": "PaymentsPlatform",
        "merchant_reference": tx.id,
        "value": 1000,
        "currency": "EUR",
        "event_code": "AUTHORISATION",
        "success": True,
        **changes,
    }
    item = NotificationItem(**fields)  # type: ignore[arg-type]
    return build_notification([sign_adyen_item(item, HEX_KEY)])


async def test_an_adyen_item_for_another_merchant_account_is_flagged_on_receipt(
    receiving: World,
) -> None:
    tx = await deposit(receiving, user_id=3, currency="EUR")
    body = adyen_item(tx, merchant_account="SomeoneElsesShop")
    assert await receive(receiving, "adyen", body, {}) == 1
    assert receiving.store.callbacks_out == []
    [(key, row)] = receiving.store.inbox.items()
    assert row.status == "flagged"
    assert "SomeoneElsesShop" in row.detail
    assert issue_kinds(receiving, tx.id) == [f"callback:{key[1]}"]
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING


async def test_an_adyen_item_for_another_psp_reference_is_flagged_not_applied(
    receiving: World,
) -> None:
    tx = await deposit(receiving, user_id=3, currency="EUR")
    body = adyen_item(tx, psp_reference="8816178952380553")
    event_id = "8816178952380553:AUTHORISATION:true"
    assert await receive_and_apply(receiving, "adyen", body, event_id) == "flagged"
    assert receiving.store.transactions[tx.id].status is TransactionStatus.PROCESSING
    assert issue_kinds(receiving, tx.id) == [f"callback:{event_id}"]


async def test_the_adyen_verifier_checks_the_merchant_account_it_is_given() -> None:
    verifier = AdyenCallbackVerifier("adyen", [HEX_KEY], merchant_account="OurShop")
    item = NotificationItem("AD-1", "", "OurShop", "t", 1000, "EUR", "AUTHORISATION", True)
    [ours] = verifier.verify({}, build_notification([sign_adyen_item(item, HEX_KEY)]))
    assert ours.mismatch is None
    other = NotificationItem(
        "AD-1", "", "PaymentsPlatform", "t", 1000, "EUR", "AUTHORISATION", True
    )
    [theirs] = verifier.verify({}, build_notification([sign_adyen_item(other, HEX_KEY)]))
    assert theirs.mismatch is not None
    assert "PaymentsPlatform" in theirs.mismatch
