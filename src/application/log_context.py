"""Who and what the current log lines are about: transaction id and actor.

Use cases bind the transaction they work on; entrypoints bind the actor (the
API client, a gateway sending a callback, a background worker). The logging
set-up in ``entrypoints.logging_setup`` reads both back and stamps them on
every record, so no log call has to repeat them.

Context variables rather than thread-locals or logger adapters: each asyncio
task runs in a copy of the context it was created in, so a binding made in a
request handler follows every ``await`` and every task started inside it,
and never leaks into concurrent requests. Standard library only, so the
application layer may import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_transaction_id: ContextVar[str | None] = ContextVar("payments_transaction_id", default=None)
_actor: ContextVar[str | None] = ContextVar("payments_actor", default=None)


@contextmanager
def bind_transaction(transaction_id: object) -> Iterator[None]:
    """Log lines inside the ``with`` block carry ``transaction_id``.

    Accepts any id type (stored as ``str``). Nested bindings restore the outer
    one on exit. Use it as a ``with`` statement only, not as a decorator: on
    an ``async def`` a decorator would unbind before the coroutine runs.
    """
    token = _transaction_id.set(str(transaction_id))
    try:
        yield
    finally:
        _transaction_id.reset(token)


@contextmanager
def bind_actor(actor: str) -> Iterator[None]:
    """Log lines inside the ``with`` block carry ``actor``.

    Conventional values: ``"client:<key fingerprint>"``, ``"admin:<fingerprint>"``,
    ``"gateway:<gateway id>"``, ``"reconciler"``, ``"relay"``. Never the API
    key itself; a short hash prefix identifies a key well enough.
    """
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_transaction_id() -> str | None:
    """The transaction id bound in this context, if any."""
    return _transaction_id.get()


def current_actor() -> str | None:
    """The actor bound in this context, if any."""
    return _actor.get()


def set_actor(actor: str) -> None:
    """Bind ``actor`` for the rest of the current task (one HTTP request).

    For entrypoints whose unit of work is a whole task, where a ``with``
    block does not fit (a framework guard runs before the handler).
    """
    _actor.set(actor)
