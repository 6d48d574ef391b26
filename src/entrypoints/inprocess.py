"""The relay's publisher when no Kafka is configured: dispatch in this process.

Verified callbacks go straight to ApplyCallback; lifecycle events have no
in-process subscriber and are only marked published. The relay, the outbox
and the at-least-once rules are the same as with Kafka.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from adapters.messages import CALLBACKS_TOPIC, callback_from_envelope
from adapters.observability import callback_applied
from application.apply_callback import ApplyCallback
from application.ports import OutboxMessage

log = logging.getLogger(__name__)


class InProcessPublisher:
    def __init__(self, apply_callback: ApplyCallback) -> None:
        self._apply = apply_callback
        self.delivered = 0

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        for message in messages:
            if message.topic == CALLBACKS_TOPIC:
                try:
                    callback = callback_from_envelope(message.payload)
                except (KeyError, TypeError, ValueError):
                    log.error("skipping unreadable callback message %s", message.event_id)
                    continue
                # An exception here (database trouble) fails the whole batch,
                # which the relay then retries: nothing is marked published.
                result = await self._apply.execute(callback)
                callback_applied(callback.gateway_id, result, message.payload.get("occurred_at"))
            self.delivered += 1

    async def ping(self) -> bool:
        return True
