"""Ports: what the use cases need from the outside world, as Protocols.

Adapters satisfy these structurally (no inheritance). Nothing here names a
driver or framework type.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from domain.ledger import Balance
from domain.routing import GatewayRoute, Priority
from domain.transaction import (
    AttemptOutcome,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from domain.user import User


# -- persistence ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PageCursor:
    """Keyset position: the last row of the previous page."""

    created_at: datetime
    transaction_id: str


class TransactionRepository(Protocol):
    """Transactions and their attempts, kept track of by the unit of work.

    Every aggregate loaded through ``get``/``get_many`` or given to ``add`` is
    written at ``commit()`` with everything its changes require (see
    application/changes.py).
    """

    async def add(self, tx: Transaction) -> None:
        """Track ``tx``: inserted at commit when never stored, else updated.

        The update is guarded by an optimistic lock: commit raises
        ConcurrentUpdate when the stored version is no longer
        ``tx.loaded_version`` (someone else changed it meanwhile). The actor
        bound now (application.log_context) is the one its audit entries name.
        """

    async def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with its attempts, or None."""

    async def get_many(
        self, transaction_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Transaction]:
        """Those that exist, by the ids given; ``lock`` holds their rows until commit."""

    async def list(
        self,
        *,
        user_id: int | None,
        status: TransactionStatus | None,
        limit: int,
        after: PageCursor | None,
    ) -> list[Transaction]:
        """Newest first, strictly after the cursor."""

    async def stuck(self, *, updated_before: datetime, limit: int) -> builtins.list[Transaction]:
        """Pending or processing transactions untouched since ``updated_before``."""

    async def unreconciled(
        self, *, updated_before: datetime, updated_after: datetime, limit: int
    ) -> builtins.list[Transaction]:
        """Terminal transactions with an ambiguous or in-flight attempt nobody checked yet."""

    async def mark_reconciled(self, transaction_id: str, attempt_numbers: Sequence[int]) -> None:
        """Remember that these attempts were checked with their gateway."""


class UserRepository(Protocol):
    """The platform's users and the country each belongs to."""

    async def get(self, user_id: int) -> User | None:
        """The user, or None."""

    async def upsert(self, user: User) -> bool:
        """Create or move the user; True when it was created."""


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    """A gateway's configuration as stored."""

    id: str
    name: str
    format: str
    admin_status: str  # up | down (operator switch)
    operations: frozenset[str]
    currencies: frozenset[str]


class RoutingRepository(Protocol):
    """Countries, gateways and each country's priority list."""

    async def list_gateways(self) -> list[GatewayInfo]:
        """Every configured gateway, by id."""

    async def set_admin_status(self, gateway_id: str, status: str) -> bool:
        """Switch a gateway up or down; False when it does not exist."""

    async def country_priorities(self, country: str) -> list[Priority]:
        """The country's priority list, best first."""

    async def replace_country_priorities(self, country: str, entries: list[Priority]) -> None:
        """Replace the whole list atomically (within the unit of work)."""

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        """Every gateway configured for the country, in no particular order."""

    async def country_exists(self, country: str) -> bool:
        """Whether the country is configured at all."""


class Ledger(Protocol):
    """The double-entry wallet ledger (see domain/ledger.py).

    Journals are booked by the unit of work's commit from the transactions'
    events; commit raises InsufficientFunds when a user account would go
    below zero (check and update are one atomic step, so concurrent
    withdrawals cannot overspend) and LedgerLimitExceeded when a balance
    would leave the stored range.
    """

    async def balances(self, user_id: int) -> list[Balance]:
        """Available and held balance per currency."""


@dataclass(frozen=True, slots=True)
class GatewayCallback:
    """A gateway's verified statement about one of our transactions."""

    gateway_id: str
    event_id: str  # the gateway's id for this notification: our dedupe key
    transaction_id: str
    status: str  # completed | failed
    reference_id: str | None
    message: str
    amount_minor: int | None = None  # when the gateway states it
    currency: str | None = None
    # Set by the verifier when the callback cannot be about our payment (another
    # merchant account, an amount no payment can have): stored, flagged, never applied.
    mismatch: str | None = None


class EventOutbox(Protocol):
    """Messages written in the same database transaction as the state they describe.

    Lifecycle events are written by the unit of work's commit; this port
    carries verified callbacks to the worker that applies them.
    """

    async def put_callback(self, callback: GatewayCallback) -> None:
        """Queue a verified callback for the worker that applies it."""


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One outbox row on its way out: to Kafka, or dispatched in-process."""

    event_id: str
    topic: str
    key: str
    type: str
    payload: dict[str, Any]


class MessagePublisher(Protocol):
    """Where the relay sends outbox messages."""

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Deliver all of them, in order, or raise (the relay then retries them)."""


@dataclass(frozen=True, slots=True)
class InboxState:
    status: str  # received | applied | duplicate | flagged | quarantined
    apply_attempts: int  # applies that raised so far


@dataclass(frozen=True, slots=True)
class SettlementBacklog:
    unapplied: int  # callbacks received, not yet applied (retries included)
    oldest_s: float  # age of the oldest of them; 0 when none


class CallbackInbox(Protocol):
    """Every callback received, raw body encrypted, once per (gateway, event id)."""

    async def add(self, callback: GatewayCallback, raw_body: bytes) -> bool:
        """Store it; False when this (gateway, event id) was received before."""

    async def lock(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], InboxState]:
        """The state of each known (gateway, event id), locked until commit."""

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        """Record how the callback was dealt with (with the commit)."""

    async def record_failure(
        self, gateway_id: str, event_id: str, error: str, retry_at: datetime | None
    ) -> None:
        """Count a failed apply; retry at ``retry_at``, or quarantine it when None."""

    async def due_for_retry(self, now: datetime, limit: int) -> list[GatewayCallback]:
        """Callbacks whose apply failed and whose retry is due, oldest first."""

    async def backlog(self) -> SettlementBacklog:
        """How far settlement is behind."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    occurred_at: datetime
    actor: str
    action: str
    details: dict[str, Any]


class AuditLog(Protocol):
    """Append-only record of who did what (state changes, operator actions)."""

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        """Append one entry in the current database transaction."""

    async def history(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        """Every entry about one subject, oldest first."""


@dataclass(frozen=True, slots=True)
class ReconciliationIssue:
    id: int
    transaction_id: str
    gateway_id: str | None
    kind: str
    detail: str
    created_at: datetime
    resolved_at: datetime | None


class IssueLog(Protocol):
    """Findings that need a human: contradictions, amount mismatches, money at a gateway."""

    async def flag(
        self, transaction_id: str, gateway_id: str | None, kind: str, detail: str
    ) -> None:
        """Record a finding once per (transaction, gateway, kind), with the commit."""

    async def list(self, *, open_only: bool, limit: int) -> builtins.list[ReconciliationIssue]:
        """Newest first."""


class CallbackVerifier(Protocol):
    """Checks one gateway family's signature and reads its callback format."""

    family: str  # json | soap: decides the acknowledgement the gateway expects

    def verify(self, headers: Mapping[str, str], body: bytes) -> list[GatewayCallback]:
        """The callbacks in the body; InvalidSignature or MalformedCallback otherwise."""


class CallbackVerifiers(Protocol):
    def get(self, gateway_id: str) -> CallbackVerifier | None:
        """The verifier for a gateway, or None when the gateway is unknown."""


class UnitOfWork(Protocol):
    """One database transaction; nothing is kept unless ``commit`` is awaited."""

    transactions: TransactionRepository
    users: UserRepository
    routing: RoutingRepository
    ledger: Ledger
    outbox: EventOutbox
    inbox: CallbackInbox
    audit: AuditLog
    issues: IssueLog

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Write every tracked change and make it durable, all or nothing."""

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Changes made in the block are written at its end, or (if it raises) undone.

        Lets one unit apply many independent changes (a batch of callbacks)
        so that one that fails does not take the others with it; aggregates
        whose writes were undone are read again on next access.
        """


UnitOfWorkFactory = Callable[[], UnitOfWork]


@runtime_checkable  # checked by the HTTP framework when injected
class Database(Protocol):
    """Liveness of the store, for readiness probes."""

    async def ping(self) -> bool:
        """True when a trivial query answers."""


# -- gateways -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PaymentInstruction:
    """What we ask a gateway to do; ``reference`` is its idempotency key."""

    transaction_id: str
    reference: str
    type: TransactionType
    user_id: int
    amount: str  # exact decimal string in the currency's precision
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class GatewayResult:
    """The classified answer of one gateway call (never a library type)."""

    outcome: AttemptOutcome
    reference_id: str | None = None
    redirect_url: str | None = None
    completed: bool = False  # the gateway settled synchronously
    error_code: str | None = None
    message: str | None = None
    tries: int = 1  # HTTP calls made under this one idempotency reference


@dataclass(frozen=True, slots=True)
class GatewayRuntime:
    """A gateway's technical state as this process sees it."""

    health: str  # healthy | unhealthy | unknown
    breaker: str  # closed | open | half_open
    success_rate: float | None
    latency_ms_p50: int | None
    latency_ms_p95: int | None
    recent_calls: int


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """What a gateway's status inquiry says about one idempotency reference."""

    found: bool  # False: the gateway never received this reference
    status: str | None = None  # processing | completed | failed
    reference_id: str | None = None  # the gateway's own id for the payment
    amount_minor: int | None = None
    currency: str | None = None


class GatewayUnreachable(Exception):
    """A status inquiry got no usable answer; ask again later."""


class PaymentProvider(Protocol):
    """One gateway, spoken to in its own format."""

    gateway_id: str

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        """Send the payment; classify every failure instead of raising."""

    async def inquire(self, reference: str) -> GatewayStatus:
        """Ask for the truth about a payment we sent (by our idempotency reference).

        Raises GatewayUnreachable when there is no trustworthy answer.
        """


class GatewayAvailability(Protocol):
    """What this process knows of each gateway's technical state."""

    def is_available(self, gateway_id: str) -> bool:
        """False while its breaker is open or its health checks fail."""


class GatewayTelemetry(Protocol):
    """Runtime state of each gateway, for operators."""

    def runtime(self, gateway_id: str) -> GatewayRuntime:
        """Health, breaker state, recent success rate and latency."""


class ProviderRegistry(Protocol):
    """Finds the adapter for a gateway id."""

    def get(self, gateway_id: str) -> PaymentProvider | None:
        """The provider, or None when this process has no adapter for it."""


# -- idempotency keys -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Claim:
    """``new``: ours, run the request. ``abandoned``: ours now, but a request that
    lost its lease held it before: its transaction (``transaction_id``) may exist."""

    outcome: Literal["new", "abandoned", "replay", "in_flight", "mismatch"]
    response: StoredResponse | None = None
    transaction_id: str | None = None  # new/abandoned: the id the key's transaction gets


class IdempotencyStore(Protocol):
    """Durable, cross-process store of idempotency keys, each leased to one request."""

    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        ttl_s: int,
        *,
        owner: str,
        transaction_id: str,
        lease_s: float,
    ) -> Claim:
        """Take the key for ``owner`` (reserving ``transaction_id`` on a new key),
        or report what holds it; a key whose lease ran out is taken over."""

    async def renew(self, scope: str, key: str, owner: str, lease_s: float) -> bool:
        """Extend ``owner``'s lease; False when the key is no longer its own."""

    async def complete(self, scope: str, key: str, owner: str, response: StoredResponse) -> None:
        """Store the final response for replays (only while ``owner`` holds the key)."""

    async def release(self, scope: str, key: str, owner: str) -> None:
        """Forget an in-flight key (no transaction was created under it)."""

    async def abandon(self, scope: str, key: str, owner: str) -> None:
        """End ``owner``'s lease now, keeping the key: its transaction may exist."""

    async def purge_expired(self) -> int:
        """Delete keys past their expiry; returns how many."""


class SessionRevocations(Protocol):
    """Logged-out operator sessions, shared by every process and replica, durable."""

    async def revoke(self, nonce: str, until: datetime) -> None:
        """Refuse the session ``nonce`` from now on; forgotten after ``until``
        (when it would have expired anyway). Also purges what has expired."""

    async def is_revoked(self, nonce: str) -> bool:
        """Whether the session was logged out (asked on every dashboard request)."""


# -- small things ---------------------------------------------------------------
class Clock(Protocol):
    """Current time, timezone-aware UTC."""

    def now(self) -> datetime:
        """Now."""


class IdGenerator(Protocol):
    """New identifiers, unique and roughly time-ordered."""

    def new_id(self) -> str:
        """A fresh id."""
