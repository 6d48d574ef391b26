"""A unit of work over plain dicts, with commit and rollback like the real one."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from application.ports import PageCursor
from domain.errors import ConcurrentUpdate
from domain.routing import GatewayRoute
from domain.transaction import Transaction, TransactionEvent, TransactionStatus
from domain.user import User


@dataclass
class MemoryStore:
    """What the database would hold."""

    transactions: dict[str, Transaction] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    routes: dict[str, list[GatewayRoute]] = field(default_factory=dict)
    outbox: list[TransactionEvent] = field(default_factory=list)
    commits: int = 0


class _Staged:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.transactions: dict[str, Transaction] = {}
        self.users: dict[int, User] = {}
        self.events: list[TransactionEvent] = []


class MemoryTransactionRepository:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def add(self, tx: Transaction) -> None:
        if tx.id in self._staged.store.transactions or tx.id in self._staged.transactions:
            raise ConcurrentUpdate(f"transaction {tx.id} already exists")
        self._stage(tx)

    async def save(self, tx: Transaction) -> None:
        current = self._staged.transactions.get(tx.id) or self._staged.store.transactions.get(tx.id)
        if current is None or current.version != tx.loaded_version:
            raise ConcurrentUpdate(f"transaction {tx.id} changed meanwhile", transaction_id=tx.id)
        self._stage(tx)

    def _stage(self, tx: Transaction) -> None:
        self._staged.events.extend(tx.pull_events())
        tx.loaded_version = tx.version
        self._staged.transactions[tx.id] = copy.deepcopy(tx)

    async def get(self, transaction_id: str) -> Transaction | None:
        tx = self._staged.transactions.get(transaction_id) or self._staged.store.transactions.get(
            transaction_id
        )
        return copy.deepcopy(tx) if tx else None

    async def list(
        self,
        *,
        user_id: int | None,
        status: TransactionStatus | None,
        limit: int,
        after: PageCursor | None,
    ) -> list[Transaction]:
        rows = sorted(
            self._staged.store.transactions.values(),
            key=lambda t: (t.created_at, t.id),
            reverse=True,
        )
        out = [
            copy.deepcopy(t)
            for t in rows
            if (user_id is None or t.user_id == user_id)
            and (status is None or t.status is status)
            and (after is None or (t.created_at, t.id) < (after.created_at, after.transaction_id))
        ]
        return out[:limit]


class MemoryUserRepository:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def get(self, user_id: int) -> User | None:
        return self._staged.users.get(user_id) or self._staged.store.users.get(user_id)

    async def upsert(self, user: User) -> bool:
        created = await self.get(user.id) is None
        self._staged.users[user.id] = user
        return created


class MemoryRoutingRepository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        return list(self._store.routes.get(country, []))

    async def country_exists(self, country: str) -> bool:
        return country in self._store.routes


class MemoryOutbox:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def put(self, events: Sequence[TransactionEvent]) -> None:
        self._staged.events.extend(events)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._staged = _Staged(store)
        self.transactions = MemoryTransactionRepository(self._staged)
        self.users = MemoryUserRepository(self._staged)
        self.routing = MemoryRoutingRepository(store)
        self.outbox = MemoryOutbox(self._staged)

    async def __aenter__(self) -> Self:
        self._staged = _Staged(self._store)
        self.transactions = MemoryTransactionRepository(self._staged)
        self.users = MemoryUserRepository(self._staged)
        self.outbox = MemoryOutbox(self._staged)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._staged = _Staged(self._store)  # anything not committed is dropped

    async def commit(self) -> None:
        staged = self._staged
        staged.store.transactions.update(staged.transactions)
        staged.store.users.update(staged.users)
        staged.store.outbox.extend(staged.events)
        staged.store.commits += 1
        self._staged = _Staged(self._store)
        self.transactions = MemoryTransactionRepository(self._staged)
        self.users = MemoryUserRepository(self._staged)
        self.outbox = MemoryOutbox(self._staged)


class MemoryDatabase:
    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    async def ping(self) -> bool:
        return self.healthy
