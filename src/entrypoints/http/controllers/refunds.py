"""Refunds of completed deposits (client key)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from adapters.observability import TRANSACTIONS
from application.refund import Refund, RefundCommand
from entrypoints.http.auth import client_guard
from entrypoints.http.controllers.transactions import counted, payment_problems
from entrypoints.http.dependencies import from_container
from entrypoints.http.schemas import AMOUNT_SCHEMA, TransactionOut, transaction_out
from entrypoints.http.strict_json import Amount, StrictJsonRequest


class RefundRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of POST /transactions/{id}/refunds; ``{}`` refunds all that is left."""

    amount: (
        Annotated[
            Amount,
            msgspec.Meta(
                description="Exact decimal amount in the deposit's currency (as for "
                "deposits); omitted: all that is left to refund",
                examples=["25.00"],
                extra_json_schema={"extra": AMOUNT_SCHEMA},
            ),
        ]
        | None
    ) = None
    reason: Annotated[str, msgspec.Meta(max_length=500, examples=["customer request"])] | None = (
        None
    )


EXAMPLES = [
    Example(
        summary="part of the deposit",
        value={"amount": "25.00", "reason": "customer request"},
    ),
    Example(summary="all that is left to refund", value={}),
]


class RefundController(Controller):
    path = "/"
    tags = ["transactions"]
    guards = [client_guard]
    request_class = StrictJsonRequest  # amounts decoded exactly (strict_json.py)
    cache_control = CacheControlHeader(no_store=True)
    dependencies = {"refund": from_container("refund")}

    @post(
        "/transactions/{transaction_id:str}/refunds",
        operation_id="createRefund",
        status_code=201,
        responses=payment_problems(),
    )
    async def refund(
        self,
        transaction_id: FromPath[str],
        data: Annotated[RefundRequest, Body(examples=EXAMPLES)],
        refund: NamedDependency[Refund],
    ) -> TransactionOut:
        """Give (part of) a completed deposit back, through the gateway that took it.

        The refund is a transaction of `type` `refund` with
        `parent_transaction_id`. 409 `not-refundable` unless the deposit is
        `completed`; 422 `refund-exceeds-payment` for more than is left to
        refund; 422 `insufficient-funds` when the user's available balance no
        longer holds the amount (nothing is recorded); 402 when the gateway
        refuses it, 503 when it is unavailable (both carry the failed
        refund's `transaction_id`; the hold is released). `Idempotency-Key`
        honoured.
        """
        with counted("refund"):
            tx = await refund.execute(
                RefundCommand(transaction_id=transaction_id, amount=data.amount, reason=data.reason)
            )
        TRANSACTIONS.labels("refund", tx.status.value).inc()
        return transaction_out(tx)
