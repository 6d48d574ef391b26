"""Ports: what the use cases need from the outside world, as Protocols.

Adapters satisfy these structurally (no inheritance). Nothing here names a
driver or framework type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from domain.routing import GatewayRoute
from domain.transaction import (
    AttemptOutcome,
    Transaction,
    TransactionEvent,
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
    """Transactions and their attempts; saving also queues their events."""

    async def add(self, tx: Transaction) -> None:
        """Insert a new transaction, its attempts and its recorded events."""

    async def save(self, tx: Transaction) -> None:
        """Update state and attempts, then queue the recorded events.

        Optimistic lock: raises ConcurrentUpdate when the stored version is no
        longer ``tx.loaded_version`` (someone else changed it meanwhile).
        """

    async def get(self, transaction_id: str) -> Transaction | None:
        """The transaction with its attempts, or None."""

    async def list(
        self,
        *,
        user_id: int | None,
        status: TransactionStatus | None,
        limit: int,
        after: PageCursor | None,
    ) -> list[Transaction]:
        """Newest first, strictly after the cursor."""


class UserRepository(Protocol):
    """The platform's users and the country each belongs to."""

    async def get(self, user_id: int) -> User | None:
        """The user, or None."""

    async def upsert(self, user: User) -> bool:
        """Create or move the user; True when it was created."""


class RoutingRepository(Protocol):
    """Countries, gateways and each country's priority list."""

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        """Every gateway configured for the country, in no particular order."""

    async def country_exists(self, country: str) -> bool:
        """Whether the country is configured at all."""


class EventOutbox(Protocol):
    """Events written in the same database transaction as the state they describe."""

    async def put(self, events: Sequence[TransactionEvent]) -> None:
        """Queue the events for the relay."""


class UnitOfWork(Protocol):
    """One database transaction; nothing is kept unless ``commit`` is awaited."""

    transactions: TransactionRepository
    users: UserRepository
    routing: RoutingRepository
    outbox: EventOutbox

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Make everything done in this unit durable."""


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


class PaymentProvider(Protocol):
    """One gateway, spoken to in its own format."""

    gateway_id: str

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        """Send the payment; classify every failure instead of raising."""


class ProviderRegistry(Protocol):
    """Finds the adapter for a gateway id."""

    def get(self, gateway_id: str) -> PaymentProvider | None:
        """The provider, or None when this process has no adapter for it."""


# -- small things ---------------------------------------------------------------
class Clock(Protocol):
    """Current time, timezone-aware UTC."""

    def now(self) -> datetime:
        """Now."""


class IdGenerator(Protocol):
    """New identifiers, unique and roughly time-ordered."""

    def new_id(self) -> str:
        """A fresh id."""
