from decimal import Decimal

import pytest

from application.deposit import DepositCommand
from application.ports import GatewayResult
from domain.errors import (
    GatewaysUnavailable,
    InvalidAmount,
    NoEligibleGateway,
    NotFound,
    PaymentDeclined,
    UnknownCurrency,
)
from domain.transaction import AttemptOutcome, TransactionStatus
from tests.unit.conftest import World

NOT_SENT = GatewayResult(outcome=AttemptOutcome.NOT_SENT, error_code="connect_failed")
TRANSIENT = GatewayResult(outcome=AttemptOutcome.TRANSIENT, error_code="internal_error")
AMBIGUOUS = GatewayResult(outcome=AttemptOutcome.AMBIGUOUS, error_code="timeout")
DECLINED = GatewayResult(
    outcome=AttemptOutcome.DECLINED, error_code="card_declined", message="Declined by issuer"
)


async def deposit(world: World, user_id: int = 1, amount: str = "100.00", currency: str = "USD"):  # type: ignore[no-untyped-def]
    use_case = world.container.deposit()
    return await use_case.execute(DepositCommand(user_id, amount, currency))


async def test_us_deposit_goes_to_the_top_priority_gateway(world: World) -> None:
    tx = await deposit(world, user_id=1)
    assert tx.status is TransactionStatus.PROCESSING
    assert tx.gateway_id == "paypal"
    assert tx.reference_id
    assert tx.redirect_url
    assert [i.reference for i in world.gateways["paypal"].received] == [f"{tx.id}:1"]
    assert world.gateways["stripe"].received == []


async def test_gb_deposit_goes_to_stripe(world: World) -> None:
    tx = await deposit(world, user_id=2, currency="GBP")
    assert tx.gateway_id == "stripe"


async def test_the_gateway_receives_the_exact_amount(world: World) -> None:
    await deposit(world, amount="12.30", currency="EUR")
    sent = world.gateways["paypal"].received[0]
    assert (sent.amount, sent.amount_minor, sent.currency) == ("12.30", 1230, "EUR")


async def test_deposit_is_stored_with_its_attempt_and_events(world: World) -> None:
    tx = await deposit(world)
    stored = world.store.transactions[tx.id]
    assert stored.status is TransactionStatus.PROCESSING
    assert [(a.gateway_id, a.outcome) for a in stored.attempts] == [
        ("paypal", AttemptOutcome.ACCEPTED)
    ]
    assert [e.type for e in world.store.outbox] == ["transaction.created", "transaction.processing"]


async def test_not_sent_falls_back_to_the_next_gateway(world: World) -> None:
    world.gateways["paypal"].will(NOT_SENT)
    tx = await deposit(world)
    assert tx.gateway_id == "stripe"
    assert [(a.gateway_id, a.outcome) for a in tx.attempts] == [
        ("paypal", AttemptOutcome.NOT_SENT),
        ("stripe", AttemptOutcome.ACCEPTED),
    ]
    assert world.gateways["stripe"].received[0].reference == f"{tx.id}:2"


async def test_transient_and_ambiguous_deposits_fall_back(world: World) -> None:
    world.gateways["paypal"].will(TRANSIENT)
    world.gateways["stripe"].will(AMBIGUOUS)
    tx = await deposit(world)
    assert tx.gateway_id == "adyen"
    assert [a.outcome for a in tx.attempts] == [
        AttemptOutcome.TRANSIENT,
        AttemptOutcome.AMBIGUOUS,
        AttemptOutcome.ACCEPTED,
    ]


async def test_decline_fails_the_transaction_without_fallback(world: World) -> None:
    world.gateways["paypal"].will(DECLINED)
    with pytest.raises(PaymentDeclined) as caught:
        await deposit(world)
    tx = world.store.transactions[caught.value.transaction_id or ""]
    assert tx.status is TransactionStatus.FAILED
    assert tx.message == "Declined by issuer"
    assert world.gateways["stripe"].received == []


async def test_every_gateway_unavailable_fails_with_the_transaction_id(world: World) -> None:
    for gw in world.gateways.values():
        gw.will(NOT_SENT)
    with pytest.raises(GatewaysUnavailable) as caught:
        await deposit(world)
    tx = world.store.transactions[caught.value.transaction_id or ""]
    assert tx.status is TransactionStatus.FAILED
    assert len(tx.attempts) == 3


async def test_an_adapter_that_raises_counts_as_ambiguous(world: World) -> None:
    async def boom(_: object) -> GatewayResult:
        raise RuntimeError("bug")

    world.gateways["paypal"].submit = boom  # type: ignore[method-assign]
    tx = await deposit(world)
    assert tx.attempts[0].outcome is AttemptOutcome.AMBIGUOUS
    assert tx.gateway_id == "stripe"


async def test_a_synchronously_completed_payment_is_completed(world: World) -> None:
    world.gateways["paypal"].will(
        GatewayResult(outcome=AttemptOutcome.ACCEPTED, reference_id="P", completed=True)
    )
    tx = await deposit(world)
    assert tx.status is TransactionStatus.COMPLETED
    assert tx.version == 3


@pytest.mark.parametrize(
    ("amount", "currency", "error"),
    [
        ("-5", "USD", InvalidAmount),
        ("1.001", "USD", InvalidAmount),
        ("1.5", "JPY", InvalidAmount),
        ("1.00", "XYZ", UnknownCurrency),
    ],
)
async def test_bad_amounts_write_nothing(
    world: World, amount: str, currency: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await deposit(world, amount=amount, currency=currency)
    assert world.store.transactions == {}
    assert world.store.commits == 0


async def test_unknown_user_is_not_found_and_writes_nothing(world: World) -> None:
    with pytest.raises(NotFound):
        await deposit(world, user_id=999)
    assert world.store.transactions == {}


async def test_a_country_without_gateways_has_no_eligible_gateway(world: World) -> None:
    with pytest.raises(NoEligibleGateway):
        await deposit(world, user_id=5)
    assert world.store.transactions == {}


async def test_json_numbers_arrive_as_exact_decimals(world: World) -> None:
    use_case = world.container.deposit()
    tx = await use_case.execute(DepositCommand(1, Decimal("0.10"), "USD"))
    assert tx.money.minor == 10


async def test_a_callback_that_settles_during_the_call_wins(world: World) -> None:
    """The gateway's callback lands before our request records the acceptance."""
    from application.ports import GatewayCallback, PaymentInstruction

    paypal = world.gateways["paypal"]
    original = paypal.submit

    async def submit_then_callback(instruction: PaymentInstruction) -> GatewayResult:
        result = await original(instruction)
        apply = world.container.apply_callbacks()
        [status] = await apply.execute(
            [
                GatewayCallback(
                    "paypal", "evt-1", instruction.transaction_id, "completed", "PP-1", "paid"
                )
            ]
        )
        assert status == "applied"
        return result

    paypal.submit = submit_then_callback  # type: ignore[method-assign]
    tx = await deposit(world)
    assert tx.status is TransactionStatus.COMPLETED
    stored = world.store.transactions[tx.id]
    assert stored.status is TransactionStatus.COMPLETED
    assert stored.attempts[0].outcome is AttemptOutcome.ACCEPTED
    assert stored.redirect_url is not None
