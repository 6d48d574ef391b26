"""The relay's publisher when no Kafka is configured: dispatch in this process.

Verified callbacks of a relay batch go to ApplyCallbacks together (one
database transaction); lifecycle events have no in-process subscriber and
are only marked published. The relay, the outbox and the at-least-once rules
are the same as with Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from adapters.messages import CALLBACKS_TOPIC, callback_from_envelope
from adapters.observability import callback_applied
from application.apply_callback import ApplyCallbacks
from application.ports import GatewayCallback, OutboxMessage

log = logging.getLogger(__name__)


class InProcessPublisher:
    def __init__(self, apply_callbacks: ApplyCallbacks) -> None:
        self._apply = apply_callbacks
        self.delivered = 0

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        callbacks: list[tuple[GatewayCallback, str | None]] = []
        for message in messages:
            if message.topic == CALLBACKS_TOPIC:
                try:
                    callback = callback_from_envelope(message.payload)
                except (KeyError, TypeError, ValueError):
                    log.error("skipping unreadable callback message %s", message.event_id)
                    continue
                callbacks.append((callback, message.payload.get("occurred_at")))
        # Only a database outage raises here (a callback that cannot be applied
        # is retried and quarantined by ApplyCallbacks itself): the whole batch
        # then fails, and the relay delivers it again, nothing marked published.
        results = await self._apply.execute([cb for cb, _ in callbacks])
        for (callback, occurred_at), result in zip(callbacks, results, strict=True):
            callback_applied(callback.gateway_id, result, occurred_at)
        self.delivered += len(messages)

    async def ping(self) -> bool:
        return True
