"""Receive a gateway callback: verify, store, queue. Applying it happens later.

The gateway gets its 2xx as soon as the callback is durable: the inbox row
(raw body encrypted) and the outbox message that carries it to the applying
worker commit together. A repeated (gateway, event id) is stored once and
queued once, so retries by the gateway cost nothing. A signed callback the
verifier found cannot be about our payment (``GatewayCallback.mismatch``) is
stored and acknowledged too, but flagged at once instead of queued: it is
never applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from application.apply_callback import flag_callback
from application.ports import CallbackVerifiers, UnitOfWorkFactory
from domain.errors import NotFound


@dataclass(frozen=True, slots=True)
class Received:
    family: str
    new: int
    repeated: int


class ReceiveCallback:
    def __init__(self, uow: UnitOfWorkFactory, verifiers: CallbackVerifiers) -> None:
        self._uow = uow
        self._verifiers = verifiers

    async def execute(self, gateway_id: str, headers: Mapping[str, str], body: bytes) -> Received:
        verifier = self._verifiers.get(gateway_id)
        if verifier is None:
            raise NotFound(f"unknown gateway {gateway_id!r}")
        callbacks = verifier.verify(headers, body)  # raises before anything is stored
        new = 0
        async with self._uow() as uow:
            for callback in callbacks:
                if not await uow.inbox.add(callback, body):
                    continue
                if callback.mismatch:
                    await flag_callback(uow, callback, callback.mismatch)
                else:
                    await uow.outbox.put_callback(callback)
                new += 1
            await uow.commit()
        return Received(verifier.family, new, len(callbacks) - new)
