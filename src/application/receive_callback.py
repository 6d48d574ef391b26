"""Receive a gateway callback: verify, store, queue. Applying it happens later.

The gateway gets its 2xx as soon as the callback is durable: the inbox row
(raw body encrypted) and the outbox message that carries it to the applying
worker commit together. A repeated (gateway, event id) is stored once and
queued once, so retries by the gateway cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
                if await uow.inbox.add(callback, body):
                    await uow.outbox.put_callback(callback)
                    new += 1
            await uow.commit()
        return Received(verifier.family, new, len(callbacks) - new)
