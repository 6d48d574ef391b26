"""A unit of work over plain dicts, with commit and rollback like the real one."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from application.ports import (
    AuditEntry,
    GatewayCallback,
    GatewayInfo,
    PageCursor,
    ReconciliationIssue,
)
from domain.errors import ConcurrentUpdate, InsufficientFunds
from domain.ledger import AccountKind, Balance, Journal
from domain.routing import GatewayRoute, Priority
from domain.transaction import (
    AttemptOutcome,
    Transaction,
    TransactionEvent,
    TransactionStatus,
    TransactionType,
)
from domain.user import User

BalanceKey = tuple[int | None, str, AccountKind]


@dataclass
class MemoryStore:
    """What the database would hold."""

    transactions: dict[str, Transaction] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    gateways: dict[str, GatewayInfo] = field(default_factory=dict)
    priorities: dict[str, list[Priority]] = field(default_factory=dict)
    balances: dict[BalanceKey, int] = field(default_factory=dict)
    journals: list[Journal] = field(default_factory=list)
    outbox: list[TransactionEvent] = field(default_factory=list)
    callbacks_out: list[GatewayCallback] = field(default_factory=list)
    inbox: dict[tuple[str, str], InboxRow] = field(default_factory=dict)
    audit: list[tuple[str, str, AuditEntry]] = field(default_factory=list)
    issues: list[ReconciliationIssue] = field(default_factory=list)
    reconciled: set[tuple[str, int]] = field(default_factory=set)
    commits: int = 0


@dataclass
class InboxRow:
    callback: GatewayCallback
    raw_body: bytes
    status: str = "received"
    detail: str = ""


class _Staged:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.transactions: dict[str, Transaction] = {}
        self.users: dict[int, User] = {}
        self.events: list[TransactionEvent] = []
        self.gateways: dict[str, GatewayInfo] = {}
        self.priorities: dict[str, list[Priority]] = {}
        self.balance_moves: dict[BalanceKey, int] = {}
        self.journals: list[Journal] = []
        self.callbacks_out: list[GatewayCallback] = []
        self.inbox: dict[tuple[str, str], InboxRow] = {}
        self.audit: list[tuple[str, str, AuditEntry]] = []
        self.issues: list[ReconciliationIssue] = []
        self.reconciled: set[tuple[str, int]] = set()

    def balance(self, key: BalanceKey) -> int:
        return self.store.balances.get(key, 0) + self.balance_moves.get(key, 0)

    def apply(self) -> None:
        store = self.store
        store.transactions.update(self.transactions)
        store.users.update(self.users)
        store.outbox.extend(self.events)
        store.gateways.update(self.gateways)
        store.priorities.update(self.priorities)
        for key, delta in self.balance_moves.items():
            store.balances[key] = store.balances.get(key, 0) + delta
        store.journals.extend(self.journals)
        store.callbacks_out.extend(self.callbacks_out)
        store.inbox.update(self.inbox)
        store.audit.extend(self.audit)
        store.issues.extend(self.issues)
        store.reconciled |= self.reconciled
        store.commits += 1


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

    async def stuck(self, *, updated_before: datetime, limit: int) -> builtins.list[Transaction]:
        rows = [
            copy.deepcopy(t)
            for t in self._staged.store.transactions.values()
            if not t.status.is_terminal and t.updated_at < updated_before
        ]
        return sorted(rows, key=lambda t: t.updated_at)[:limit]

    async def unreconciled(
        self, *, updated_before: datetime, updated_after: datetime, limit: int
    ) -> builtins.list[Transaction]:
        done = self._staged.store.reconciled | self._staged.reconciled
        rows = [
            copy.deepcopy(t)
            for t in self._staged.store.transactions.values()
            if t.status.is_terminal
            and updated_after < t.updated_at < updated_before
            and any(
                a.outcome in (AttemptOutcome.AMBIGUOUS, AttemptOutcome.IN_FLIGHT)
                and (t.id, a.number) not in done
                for a in t.attempts
            )
        ]
        return sorted(rows, key=lambda t: t.updated_at)[:limit]

    async def mark_reconciled(self, transaction_id: str, attempt_numbers: Sequence[int]) -> None:
        self._staged.reconciled |= {(transaction_id, n) for n in attempt_numbers}


class MemoryAuditLog:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        entry = AuditEntry(datetime.now(UTC), actor, action, dict(details))
        self._staged.audit.append((subject_type, subject_id, entry))

    async def history(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        rows = self._staged.store.audit + self._staged.audit
        return [e for t, i, e in rows if (t, i) == (subject_type, subject_id)]


class MemoryIssueLog:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def flag(
        self, transaction_id: str, gateway_id: str | None, kind: str, detail: str
    ) -> bool:
        known = self._staged.store.issues + self._staged.issues
        if any(
            (i.transaction_id, i.gateway_id, i.kind) == (transaction_id, gateway_id, kind)
            for i in known
        ):
            return False
        self._staged.issues.append(
            ReconciliationIssue(
                len(known) + 1, transaction_id, gateway_id, kind, detail, datetime.now(UTC), None
            )
        )
        return True

    async def list(self, *, open_only: bool, limit: int) -> list[ReconciliationIssue]:
        rows = [i for i in self._staged.store.issues if not open_only or i.resolved_at is None]
        return sorted(rows, key=lambda i: i.id, reverse=True)[:limit]


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
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    def _gateways(self) -> dict[str, GatewayInfo]:
        return {**self._staged.store.gateways, **self._staged.gateways}

    def _priorities(self, country: str) -> list[Priority]:
        staged = self._staged.priorities.get(country)
        return list(staged if staged is not None else self._staged.store.priorities[country])

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        if not await self.country_exists(country):
            return []
        gateways = self._gateways()
        return [
            GatewayRoute(
                gateway_id=p.gateway_id,
                priority=p.priority,
                operations=frozenset(TransactionType(o) for o in gateways[p.gateway_id].operations),
                currencies=gateways[p.gateway_id].currencies,
                enabled=gateways[p.gateway_id].admin_status == "up",
            )
            for p in self._priorities(country)
        ]

    async def country_exists(self, country: str) -> bool:
        return country in self._staged.store.priorities

    async def list_gateways(self) -> list[GatewayInfo]:
        return sorted(self._gateways().values(), key=lambda g: g.id)

    async def set_admin_status(self, gateway_id: str, status: str) -> bool:
        gateway = self._gateways().get(gateway_id)
        if gateway is None:
            return False
        self._staged.gateways[gateway_id] = replace(gateway, admin_status=status)
        return True

    async def country_priorities(self, country: str) -> list[Priority]:
        return sorted(self._priorities(country), key=lambda p: p.priority)

    async def replace_country_priorities(self, country: str, entries: list[Priority]) -> None:
        self._staged.priorities[country] = list(entries)


class MemoryLedger:
    """Same rules as the database: balanced journals, once each, no overdraft."""

    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def post(self, journal: Journal) -> bool:
        booked = self._staged.store.journals + self._staged.journals
        if any(
            (j.transaction_id, j.kind) == (journal.transaction_id, journal.kind) for j in booked
        ):
            return False
        for posting in journal.postings:
            a = posting.account
            key = (a.user_id, a.currency, a.kind)
            if (
                a.kind is not AccountKind.EXTERNAL
                and self._staged.balance(key) + posting.amount_minor < 0
            ):
                raise InsufficientFunds(f"insufficient {a.kind.value} balance in {a.currency}")
        for posting in journal.postings:
            a = posting.account
            key = (a.user_id, a.currency, a.kind)
            self._staged.balance_moves[key] = (
                self._staged.balance_moves.get(key, 0) + posting.amount_minor
            )
        self._staged.journals.append(journal)
        return True

    async def balances(self, user_id: int) -> list[Balance]:
        currencies = {
            c
            for (u, c, _) in {**self._staged.store.balances, **self._staged.balance_moves}
            if u == user_id
        }
        return [
            Balance(
                c,
                self._staged.balance((user_id, c, AccountKind.AVAILABLE)),
                self._staged.balance((user_id, c, AccountKind.HELD)),
            )
            for c in sorted(currencies)
        ]


class MemoryOutbox:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    async def put(self, events: Sequence[TransactionEvent]) -> None:
        self._staged.events.extend(events)

    async def put_callback(self, callback: GatewayCallback) -> None:
        self._staged.callbacks_out.append(callback)


class MemoryInbox:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    def _row(self, key: tuple[str, str]) -> InboxRow | None:
        return self._staged.inbox.get(key) or self._staged.store.inbox.get(key)

    async def add(self, callback: GatewayCallback, raw_body: bytes) -> bool:
        key = (callback.gateway_id, callback.event_id)
        if self._row(key) is not None:
            return False
        self._staged.inbox[key] = InboxRow(callback, raw_body)
        return True

    async def status_of(self, gateway_id: str, event_id: str) -> str | None:
        row = self._row((gateway_id, event_id))
        return row.status if row else None

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        row = self._row((gateway_id, event_id))
        if row is not None:
            self._staged.inbox[(gateway_id, event_id)] = replace(row, status=status, detail=detail)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._begin()

    def _begin(self) -> None:
        self._staged = _Staged(self._store)
        self.transactions = MemoryTransactionRepository(self._staged)
        self.users = MemoryUserRepository(self._staged)
        self.routing = MemoryRoutingRepository(self._staged)
        self.ledger = MemoryLedger(self._staged)
        self.outbox = MemoryOutbox(self._staged)
        self.inbox = MemoryInbox(self._staged)
        self.audit = MemoryAuditLog(self._staged)
        self.issues = MemoryIssueLog(self._staged)

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._begin()  # anything not committed is dropped

    async def commit(self) -> None:
        self._staged.apply()
        self._begin()


class MemoryDatabase:
    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    async def ping(self) -> bool:
        return self.healthy
