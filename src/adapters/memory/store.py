"""What the in-memory database holds, and what one unit of work has staged on top."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from application.ports import (
    AuditEntry,
    CountryLimits,
    GatewayCallback,
    GatewayInfo,
    ReconciliationIssue,
)
from domain.ledger import AccountKind, Journal
from domain.routing import Priority
from domain.routing_config import RoutingConfig
from domain.transaction import Transaction, TransactionEvent
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
    routing: dict[str, RoutingConfig] = field(default_factory=dict)  # countries with a document
    balances: dict[BalanceKey, int] = field(default_factory=dict)
    journals: list[Journal] = field(default_factory=list)
    outbox: list[TransactionEvent] = field(default_factory=list)
    callbacks_out: list[GatewayCallback] = field(default_factory=list)
    inbox: dict[tuple[str, str], InboxRow] = field(default_factory=dict)
    audit: list[tuple[str, str, AuditEntry]] = field(default_factory=list)
    issues: list[ReconciliationIssue] = field(default_factory=list)
    reconciled: set[tuple[str, int]] = field(default_factory=set)
    commits: int = 0
    # Money rules (adapters/memory/limits.py): each country's currency and limits,
    # each gateway's reversal window in hours, each country's closed-loop switch.
    country_limits: dict[str, CountryLimits] = field(default_factory=dict)
    reversal_windows: dict[str, int] = field(default_factory=dict)
    closed_loop: dict[str, bool] = field(default_factory=dict)


@dataclass
class InboxRow:
    callback: GatewayCallback
    raw_body: bytes
    status: str = "received"
    detail: str = ""
    apply_attempts: int = 0
    next_attempt_at: datetime | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Staged:
    """One unit of work's writes, not yet in the store (the open database transaction)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.transactions: dict[str, Transaction] = {}
        self.users: dict[int, User] = {}
        self.events: list[TransactionEvent] = []
        self.gateways: dict[str, GatewayInfo] = {}
        self.priorities: dict[str, list[Priority]] = {}
        self.routing: dict[str, RoutingConfig | None] = {}  # None: back to the list
        self.balance_moves: dict[BalanceKey, int] = {}
        self.journals: list[Journal] = []
        self.callbacks_out: list[GatewayCallback] = []
        self.inbox: dict[tuple[str, str], InboxRow] = {}
        self.audit: list[tuple[str, str, AuditEntry]] = []
        self.issues: list[ReconciliationIssue] = []
        self.reconciled: set[tuple[str, int]] = set()
        self.country_limits: dict[str, CountryLimits] = {}
        self.reversal_windows: dict[str, int] = {}

    def balance(self, key: BalanceKey) -> int:
        return self.store.balances.get(key, 0) + self.balance_moves.get(key, 0)

    def apply(self) -> None:
        store = self.store
        store.transactions.update(self.transactions)
        store.users.update(self.users)
        store.outbox.extend(self.events)
        store.gateways.update(self.gateways)
        store.priorities.update(self.priorities)
        for country, config in self.routing.items():
            if config is None:
                store.routing.pop(country, None)
            else:
                store.routing[country] = config
        for key, delta in self.balance_moves.items():
            store.balances[key] = store.balances.get(key, 0) + delta
        store.journals.extend(self.journals)
        store.callbacks_out.extend(self.callbacks_out)
        store.inbox.update(self.inbox)
        store.audit.extend(self.audit)
        store.issues.extend(self.issues)
        store.reconciled |= self.reconciled
        store.country_limits.update(self.country_limits)
        store.reversal_windows.update(self.reversal_windows)
        store.commits += 1
