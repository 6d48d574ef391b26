"""Ports for the outbox: messages written with the state they describe, and their relay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from application.ports.callbacks import GatewayCallback


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
