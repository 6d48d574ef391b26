"""Port for the unit of work: one database transaction over every repository."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from application.ports.audit import AuditLog, IssueLog
from application.ports.callbacks import CallbackInbox
from application.ports.ledger import Ledger
from application.ports.limits import LimitRepository
from application.ports.outbox import EventOutbox
from application.ports.routing import RoutingRepository
from application.ports.transactions import TransactionRepository
from application.ports.users import UserRepository


class UnitOfWork(Protocol):
    """One database transaction; nothing is kept unless ``commit`` is awaited."""

    # Read-only members, so an adapter's own repository types (a subtype of
    # each port) satisfy them: use cases never replace a repository.
    @property
    def transactions(self) -> TransactionRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def routing(self) -> RoutingRepository: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def limits(self) -> LimitRepository: ...
    @property
    def outbox(self) -> EventOutbox: ...
    @property
    def inbox(self) -> CallbackInbox: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def issues(self) -> IssueLog: ...

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
