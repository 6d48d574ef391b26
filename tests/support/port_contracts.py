"""Helpers for the port contracts (tests/integration/contracts): backends and data."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.memory.idempotency import MemoryIdempotencyStore
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import MemoryUnitOfWork
from application.ports import GatewayInfo, IdempotencyStore, UnitOfWorkFactory
from domain.money import Money
from domain.routing import Priority
from domain.transaction import AttemptOutcome, Transaction, TransactionType
from domain.user import CountryCode, User

NOW = datetime(2025, 3, 4, 12, 30, 15, 123456, tzinfo=UTC)
SECOND = timedelta(seconds=1)

# What adapters/postgres/demo_data.sql loads, for the in-memory store.
DEMO_CURRENCIES = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD"})
DEMO_PRIORITIES = {
    "US": ("paypal", "stripe", "adyen"),
    "GB": ("stripe", "paypal", "adyen"),
    "DE": ("adyen", "stripe", "paypal"),
    "JP": ("paypal", "stripe"),
}
DEMO_USERS = {1: "US", 2: "GB", 3: "DE", 4: "JP"}
BOTH = frozenset({"deposit", "withdrawal"})


@dataclass
class Backend:
    """The ports under test, plus a read of what the outbox holds (no port reads it)."""

    name: str
    uow: UnitOfWorkFactory
    idempotency: IdempotencyStore
    # (event type, transaction id) of every lifecycle event in the order
    # written, then ("callback", event id) of every queued callback.
    outbox: Callable[[], Awaitable[list[tuple[str, str]]]]


def demo_memory_store() -> MemoryStore:
    gateways = {
        gid: GatewayInfo(gid, name, fmt, "up", BOTH, DEMO_CURRENCIES)
        for gid, name, fmt in (
            ("paypal", "PayPal", "json"),
            ("stripe", "Stripe", "stripe_api"),
            ("adyen", "Adyen", "soap"),
        )
    }
    priorities = {
        country: [Priority(gid, n) for n, gid in enumerate(ids, start=1)]
        for country, ids in DEMO_PRIORITIES.items()
    }
    users = {uid: User(uid, CountryCode(c)) for uid, c in DEMO_USERS.items()}
    return MemoryStore(gateways=gateways, priorities=priorities, users=users)


def memory_backend() -> Backend:
    store = demo_memory_store()

    async def outbox() -> list[tuple[str, str]]:
        return [(e.type, e.transaction_id) for e in store.outbox] + [
            ("callback", c.event_id) for c in store.callbacks_out
        ]

    return Backend("memory", lambda: MemoryUnitOfWork(store), MemoryIdempotencyStore(), outbox)


def new_tx(
    *,
    user_id: int = 1,
    minor: int = 10_000,
    currency: str = "USD",
    type: TransactionType = TransactionType.DEPOSIT,
    now: datetime = NOW,
) -> Transaction:
    return Transaction.create(
        transaction_id=str(uuid.uuid4()),
        type=type,
        user_id=user_id,
        money=Money.of_minor(minor, currency),
        now=now,
    )


def accept(tx: Transaction, gateway_id: str = "paypal", *, now: datetime = NOW) -> None:
    """Send ``tx`` to a gateway that accepted it: it is processing."""
    attempt = tx.begin_attempt(gateway_id, now)
    tx.settle_attempt(attempt.number, AttemptOutcome.ACCEPTED, latency_ms=5)
    tx.mark_processing(
        gateway_id=gateway_id,
        reference_id=f"ref-{tx.id}",
        redirect_url=None,
        message="accepted",
        now=now,
    )


async def store(backend: Backend, *txs: Transaction) -> None:
    async with backend.uow() as unit:
        for tx in txs:
            await unit.transactions.add(tx)
        await unit.commit()


async def load(backend: Backend, transaction_id: str) -> Transaction:
    async with backend.uow() as unit:
        tx = await unit.transactions.get(transaction_id)
    assert tx is not None
    return tx


async def fund(backend: Backend, user_id: int, minor: int, currency: str = "USD") -> None:
    """A completed deposit: ``minor`` more available to the user."""
    tx = new_tx(user_id=user_id, minor=minor, currency=currency)
    accept(tx)
    tx.complete(message="paid", now=NOW + SECOND)
    await store(backend, tx)
