"""Deposits and transaction queries (client key)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from adapters.observability import TRANSACTIONS
from application.deposit import Deposit, DepositCommand
from application.get_transaction import GetTransaction
from application.list_transactions import ListTransactions, ListTransactionsQuery
from application.withdraw import Withdraw, WithdrawCommand
from domain.errors import GatewaysUnavailable, PaymentDeclined
from entrypoints.http.auth import client_guard
from entrypoints.http.params import (
    digits,
    integer_schema,
    optional_digits,
    optional_integer_schema,
)
from entrypoints.http.schemas import (
    PaymentRequest,
    TransactionDetailOut,
    TransactionOut,
    TransactionPageOut,
    WithdrawalRequest,
    problem_responses,
    transaction_detail_out,
    transaction_out,
)
from entrypoints.http.strict_json import StrictJsonRequest


def payment_problems() -> dict[int, Any]:
    """Problem answers of deposits and withdrawals; their 503 also covers shedding."""
    responses = problem_responses(400, 401, 402, 404, 409, 413, 415, 422, 503)
    responses[503] = replace(
        responses[503],
        description=(
            "Every eligible gateway failed (then with the failed transaction_id), a "
            "dependency is down, or this instance is at its limit of concurrent payments "
            "(`/problems/overloaded`, with `Retry-After`: nothing was recorded, retry "
            "with the same Idempotency-Key)"
        ),
    )
    # Idempotency: a retry whose first request died (its lease expired) gets
    # the transaction's current state (idempotency_lease.py).
    responses[200] = ResponseSpec(
        TransactionOut,
        description="Retry with the Idempotency-Key of a request that died mid-way: the "
        "transaction it created, as it stands now (header `Idempotent-Replayed: true`)",
        generate_examples=False,
    )
    return responses


@contextmanager
def counted(kind: str) -> Iterator[None]:
    """Count transactions that end in a refusal carrying a transaction (402, 503)."""
    try:
        yield
    except (PaymentDeclined, GatewaysUnavailable):
        TRANSACTIONS.labels(kind, "failed").inc()
        raise


class TransactionController(Controller):
    path = "/"
    tags = ["transactions"]
    guards = [client_guard]
    # Bodies carry money and ids: decoded strictly and exactly (strict_json.py).
    request_class = StrictJsonRequest
    # Transactions carry money and payout details: no cache may keep them.
    cache_control = CacheControlHeader(no_store=True)

    @post(
        "/deposit",
        operation_id="createDeposit",
        status_code=201,
        responses=payment_problems(),
    )
    async def deposit(
        self, data: JSONBody[PaymentRequest], deposit: NamedDependency[Deposit]
    ) -> TransactionOut:
        """Move money in: routed by the user's country, with fallback across gateways.

        402 when the gateway declines (no fallback), 503 when every eligible
        gateway is unavailable; both carry the failed `transaction_id`.
        """
        with counted("deposit"):
            tx = await deposit.execute(
                DepositCommand(user_id=data.user_id, amount=data.amount, currency=data.currency)
            )
        TRANSACTIONS.labels("deposit", tx.status.value).inc()
        return transaction_out(tx)

    @post(
        "/withdrawal",
        operation_id="createWithdrawal",
        status_code=201,
        responses=payment_problems(),
    )
    async def withdrawal(
        self, data: JSONBody[WithdrawalRequest], withdraw: NamedDependency[Withdraw]
    ) -> TransactionOut:
        """Move money out: the amount is held from the available balance first.

        422 `insufficient-funds` when the available balance does not cover it
        (nothing is recorded); 402 when declined (the hold is released); an
        ambiguous gateway answer leaves it `processing` until the gateway
        confirms, with no fallback to another gateway.
        """
        with counted("withdrawal"):
            tx = await withdraw.execute(
                WithdrawCommand(
                    user_id=data.user_id,
                    amount=data.amount,
                    currency=data.currency,
                    destination=data.destination,
                )
            )
        TRANSACTIONS.labels("withdrawal", tx.status.value).inc()
        return transaction_out(tx)

    @get(
        "/transactions/{transaction_id:str}",
        operation_id="getTransaction",
        responses=problem_responses(401, 404),
    )
    async def get_transaction(
        self, transaction_id: FromPath[str], get_transaction: NamedDependency[GetTransaction]
    ) -> TransactionDetailOut:
        """One transaction with every gateway attempt."""
        return transaction_detail_out(await get_transaction.execute(transaction_id))

    @get(
        "/transactions", operation_id="listTransactions", responses=problem_responses(400, 401, 422)
    )
    async def list_transactions(
        self,
        list_transactions: NamedDependency[ListTransactions],
        # Strings read by optional_digits: an int parameter took "1e1" and "5.0".
        user_id: Annotated[
            str | None, QueryParameter(schema_extra=optional_integer_schema())
        ] = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        limit: Annotated[str, QueryParameter(schema_extra=integer_schema(200, default=50))] = "50",
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> TransactionPageOut:
        """Newest first; pass `next_cursor` back as `cursor` for the next page."""
        query = ListTransactionsQuery(
            user_id=optional_digits(user_id, "user_id"),
            status=status,
            limit=digits(limit, "limit", maximum=200),
            cursor=cursor,
        )
        page = await list_transactions.execute(query)
        return TransactionPageOut(
            items=[transaction_out(tx) for tx in page.items], next_cursor=page.next_cursor
        )
