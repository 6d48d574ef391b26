"""A unit of work over plain dicts, with commit and rollback like the real one."""

from __future__ import annotations

import builtins
import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from application.changes import TransactionChanges, collect, has_changes, written
from application.log_context import current_actor
from application.ports import (
    AuditEntry,
    GatewayCallback,
    GatewayInfo,
    InboxState,
    PageCursor,
    ReconciliationIssue,
    SettlementBacklog,
)
from domain.errors import ConcurrentUpdate, InsufficientFunds, LedgerLimitExceeded
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
BALANCE_MAX = 2**63 - 1  # PostgreSQL BIGINT, as ledger_accounts.balance_minor


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
    apply_attempts: int = 0
    next_attempt_at: datetime | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


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
        self.tracked: dict[str, tuple[Transaction, str | None]] = {}

    async def add(self, tx: Transaction) -> None:
        self.tracked[tx.id] = (tx, current_actor())

    async def get(self, transaction_id: str) -> Transaction | None:
        return (await self.get_many([transaction_id])).get(transaction_id)

    async def get_many(
        self, transaction_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Transaction]:
        found: dict[str, Transaction] = {}
        for tid in transaction_ids:
            if tid in self.tracked:
                found[tid] = self.tracked[tid][0]
                continue
            tx = self._staged.transactions.get(tid) or self._staged.store.transactions.get(tid)
            if tx is not None:
                copied = copy.deepcopy(tx)
                self.tracked[tid] = (copied, None)
                found[tid] = copied
        return found

    def forget(self, transaction_ids: Sequence[str]) -> None:
        for tid in transaction_ids:
            self.tracked.pop(tid, None)

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
    ) -> None:
        known = self._staged.store.issues + self._staged.issues
        if any(
            (i.transaction_id, i.gateway_id, i.kind) == (transaction_id, gateway_id, kind)
            for i in known
        ):
            return
        self._staged.issues.append(
            ReconciliationIssue(
                len(known) + 1, transaction_id, gateway_id, kind, detail, datetime.now(UTC), None
            )
        )

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

    def book(self, journal: Journal) -> bool:
        """Called by the unit of work's commit (the only writer of journals)."""
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
            if a.kind is not AccountKind.EXTERNAL and (
                self._staged.balance(key) + posting.amount_minor > BALANCE_MAX
            ):
                # The database stores balances as BIGINT: the same limit here.
                raise LedgerLimitExceeded("a balance would leave the stored range")
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

    async def lock(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], InboxState]:
        return {
            key: InboxState(row.status, row.apply_attempts)
            for key in keys
            if (row := self._row(key)) is not None
        }

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        row = self._row((gateway_id, event_id))
        if row is not None:
            self._staged.inbox[(gateway_id, event_id)] = replace(
                row, status=status, detail=detail, next_attempt_at=None
            )

    async def record_failure(
        self, gateway_id: str, event_id: str, error: str, retry_at: datetime | None
    ) -> None:
        row = self._row((gateway_id, event_id))
        if row is not None:
            self._staged.inbox[(gateway_id, event_id)] = replace(
                row,
                apply_attempts=row.apply_attempts + 1,
                next_attempt_at=retry_at,
                status="quarantined" if retry_at is None else row.status,
                detail=error if retry_at is None else row.detail,
            )

    async def due_for_retry(self, now: datetime, limit: int) -> list[GatewayCallback]:
        rows = {**self._staged.store.inbox, **self._staged.inbox}.values()
        due = [
            r
            for r in rows
            if r.status == "received" and r.next_attempt_at is not None and r.next_attempt_at <= now
        ]
        return [r.callback for r in sorted(due, key=lambda r: r.next_attempt_at or now)][:limit]

    async def backlog(self) -> SettlementBacklog:
        rows = [
            r
            for r in {**self._staged.store.inbox, **self._staged.inbox}.values()
            if r.status == "received"
        ]
        if not rows:
            return SettlementBacklog(0, 0.0)
        oldest = min(r.received_at for r in rows)
        return SettlementBacklog(len(rows), (datetime.now(UTC) - oldest).total_seconds())


class MemoryUnitOfWork:
    """Commit collects every tracked transaction's changes, like the real one."""

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
        changes = self._collect()
        self._stage(changes)  # raises (nothing kept) on a lost race or an overdraft
        self._staged.apply()
        for change in changes:
            written(change)
        self._begin()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before = copy.copy(self._staged.__dict__)
        snapshot = {k: copy.copy(v) for k, v in before.items() if k != "store"}
        changes: list[TransactionChanges] = []
        try:
            yield
            changes = self._collect()
            self._stage(changes)
        except BaseException:
            for key, value in snapshot.items():
                setattr(self._staged, key, value)
            touched = {c.transaction.id for c in changes} | {
                tx.id for tx, _ in self.transactions.tracked.values() if has_changes(tx)
            }
            self.transactions.forget(list(touched))
            raise
        for change in changes:
            written(change)

    def _collect(self) -> list[TransactionChanges]:
        actor = current_actor() or "system"
        return [
            collect(tx, added_by or actor) for tx, added_by in self.transactions.tracked.values()
        ]

    def _stage(self, changes: list[TransactionChanges]) -> None:
        staged = self._staged
        for change in changes:
            if change.empty:
                continue
            tx = change.transaction
            stored = staged.transactions.get(tx.id) or staged.store.transactions.get(tx.id)
            if change.new and stored is not None:
                raise ConcurrentUpdate(f"transaction {tx.id} already exists")
            if not change.new and (stored is None or stored.version != change.loaded_version):
                raise ConcurrentUpdate(
                    f"transaction {tx.id} changed meanwhile", transaction_id=tx.id
                )
            copied = copy.deepcopy(tx)
            copied.loaded_version = copied.version
            staged.transactions[tx.id] = copied
            staged.events.extend(change.events)
            for journal in change.journals:
                self.ledger.book(journal)
            for entry in change.audit:
                staged.audit.append(
                    (
                        entry.subject_type,
                        entry.subject_id,
                        AuditEntry(
                            datetime.now(UTC), entry.actor, entry.action, dict(entry.details)
                        ),
                    )
                )


class MemoryDatabase:
    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    async def ping(self) -> bool:
        return self.healthy
