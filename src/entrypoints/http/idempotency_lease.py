"""What the idempotency middleware does about leases: keep its own, recover lost ones.

A request renews its key's lease while it runs, so however long the
gateways take (there is no whole-request timeout: with fallback a deposit
may take several connect + read timeouts), only a dead request loses its
key. A retry that takes over a lost key answers with the current state of
the transaction the key names, as ``GET /transactions/{id}`` shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import msgspec

from application.get_transaction import GetTransaction
from application.ports import IdempotencyStore, StoredResponse
from domain.errors import NotFound
from entrypoints.http.dependencies import resolve
from entrypoints.http.schemas import transaction_detail_out

log = logging.getLogger(__name__)

# Renewed this many times per lease: two renewals may fail before it runs out.
RENEWALS_PER_LEASE = 3


@dataclass(frozen=True, slots=True)
class Lease:
    """This request's hold on a key."""

    store: IdempotencyStore
    scope: str
    key: str
    owner: str  # a token of this request alone
    seconds: float

    @contextlib.asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """Renew the lease for as long as the block runs."""
        task = asyncio.create_task(self._renew(), name="idempotency-lease")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.seconds / RENEWALS_PER_LEASE)
            try:
                if not await self.store.renew(self.scope, self.key, self.owner, self.seconds):
                    log.warning("idempotency key %r was taken over while its request ran", self.key)
                    return
            except Exception:  # the next renewal may work; the lease has slack
                log.warning("could not renew idempotency key %r", self.key, exc_info=True)

    async def complete(self, response: StoredResponse) -> None:
        await self.store.complete(self.scope, self.key, self.owner, response)

    async def end(self, *, keep: bool) -> None:
        """Give the key up: ``keep`` it (a transaction may exist) or forget it."""
        try:
            if keep:
                await self.store.abandon(self.scope, self.key, self.owner)
            else:
                await self.store.release(self.scope, self.key, self.owner)
        except Exception:  # the lease then simply runs out, with the same effect
            log.warning("could not release idempotency key %r", self.key, exc_info=True)


async def current_state(container: Any, transaction_id: str) -> tuple[StoredResponse, bool] | None:
    """The transaction as GET /transactions/{id} shows it, and whether it is final;
    None when it does not exist (the request that held the key never created it)."""
    get_transaction: GetTransaction = await resolve(container.get_transaction)
    try:
        details = await get_transaction.execute(transaction_id)
    except NotFound:
        return None
    body = msgspec.json.encode(transaction_detail_out(details))
    final = details.transaction.status.is_terminal
    return StoredResponse(200, "application/json", body), final


async def answer_for_lost_key(lease: Lease, state: tuple[StoredResponse, bool]) -> None:
    """Keep a final state as the key's answer; otherwise let the next retry look again."""
    response, final = state
    if not final:
        await lease.end(keep=True)
        return
    try:
        await lease.complete(response)
    except Exception:  # the lease then runs out; the next retry looks again
        log.warning("could not store the answer of idempotency key %r", lease.key, exc_info=True)
