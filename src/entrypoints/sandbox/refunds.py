"""The sandbox PSPs' refund rule, shared by both wire families.

A refund names the PSP's id of the payment it gives back: that payment must
be a completed deposit in the same currency. The refund itself is then
recorded like any payment (type ``refund``, under its own idempotency
reference), settles later and is called back like one. (How much of a
payment was refunded already is the merchant's rule here: the service
refuses more than a deposit brought in before it calls.)
"""

from __future__ import annotations

from domain.errors import InvalidInput
from domain.money import Money
from entrypoints.sandbox.psp import PspGateway, SandboxPayment


def refundable(gw: PspGateway, payment_id: str, amount: str, currency: str) -> SandboxPayment | str:
    """The payment a refund gives back, or why it cannot be refunded."""
    try:
        money = Money.parse(amount, currency)
    except InvalidInput as exc:
        return exc.detail
    original = next((p for p in gw.ledger() if p.psp_id == payment_id), None)
    if original is None or original.type != "deposit" or original.status != "completed":
        return f"no completed payment {payment_id}"
    if (
        original.currency != money.currency.code
        or money.minor > Money.parse(original.amount, original.currency).minor
    ):
        return f"a refund of {amount} {currency} does not fit payment {payment_id}"
    return original
