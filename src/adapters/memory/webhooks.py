"""In-memory webhook endpoints and delivery queue for unit tests.

Satisfies WebhookEndpoints and WebhookQueue over one store, with the same
rules as the PostgreSQL adapters (leases, one row per attempt, re-enabling
clears the failure streak). ``fan_out`` stands in for the relay's step.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from application.ports import (
    ClaimedEndpoint,
    DeliveryOutcome,
    DeliveryRecord,
    DueDelivery,
    EndpointChanges,
    WebhookEndpoint,
)
from domain.webhooks import matches


@dataclass
class _Row:
    record: DeliveryRecord
    due_at: datetime
    first_try_at: datetime


class MemoryWebhooks:
    def __init__(self, now: Any) -> None:
        self._now = now  # () -> datetime: the test's clock
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.secrets: dict[str, str] = {}
        self.previous: dict[str, tuple[str, datetime]] = {}  # secret, expires at
        self.leases: dict[str, datetime] = {}
        self.rows: list[_Row] = []
        self.events: dict[str, dict[str, Any]] = {}

    def fan_out(self, event: dict[str, Any]) -> None:
        """What the relay does with each published lifecycle event."""
        self.events[event["event_id"]] = event
        for e in self.endpoints.values():
            if e.status == "enabled" and matches(e.events, event["type"]):
                self._queue(e.id, event["event_id"], event["type"], 1, self._now(), self._now())

    def _queue(
        self,
        endpoint_id: str,
        event_id: str,
        type_: str,
        attempt: int,
        due: datetime,
        first: datetime,
    ) -> DeliveryRecord:
        record = DeliveryRecord(
            len(self.rows) + 1,
            endpoint_id,
            event_id,
            type_,
            attempt,
            "pending",
            None,
            None,
            None,
            None,
            None,
            None,
        )
        self.rows.append(_Row(record, due, first))
        return record

    # -- WebhookEndpoints
    async def create(self, endpoint: WebhookEndpoint, secret: str) -> None:
        self.endpoints[endpoint.id] = endpoint
        self.secrets[endpoint.id] = secret

    async def list(self) -> builtins.list[WebhookEndpoint]:
        return sorted(self.endpoints.values(), key=lambda e: (e.created_at, e.id))

    async def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self.endpoints.get(endpoint_id)

    async def update(
        self, endpoint_id: str, changes: EndpointChanges, now: datetime
    ) -> WebhookEndpoint | None:
        e = self.endpoints.get(endpoint_id)
        if e is None:
            return None
        e = replace(
            e,
            url=changes.url or e.url,
            events=changes.events or e.events,
            description=e.description if changes.description is None else changes.description,
            status=changes.status or e.status,
            failing_since=None if changes.status == "enabled" else e.failing_since,
            updated_at=now,
        )
        self.endpoints[endpoint_id] = e
        return e

    async def delete(self, endpoint_id: str) -> bool:
        self.rows = [r for r in self.rows if r.record.endpoint_id != endpoint_id]
        return self.endpoints.pop(endpoint_id, None) is not None

    async def deliveries(self, endpoint_id: str, limit: int) -> builtins.list[DeliveryRecord]:
        mine = [r.record for r in self.rows if r.record.endpoint_id == endpoint_id]
        return sorted(mine, key=lambda d: -d.id)[:limit]

    async def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        return next((r.record for r in self.rows if r.record.id == delivery_id), None)

    async def requeue(self, delivery_id: int, now: datetime) -> DeliveryRecord | None:
        d = await self.get_delivery(delivery_id)
        if d is None:
            return None
        attempt = 1 + max(
            r.record.attempt
            for r in self.rows
            if (r.record.endpoint_id, r.record.event_id) == (d.endpoint_id, d.event_id)
        )
        return self._queue(d.endpoint_id, d.event_id, d.type, attempt, now, now)

    async def roll_secret(
        self, endpoint_id: str, secret: str, previous_expires_at: datetime | None, now: datetime
    ) -> WebhookEndpoint | None:
        e = self.endpoints.get(endpoint_id)
        if e is None:
            return None
        if previous_expires_at is None:
            self.previous.pop(endpoint_id, None)
        else:
            self.previous[endpoint_id] = (self.secrets[endpoint_id], previous_expires_at)
        self.secrets[endpoint_id] = secret
        e = replace(e, previous_secret_expires_at=previous_expires_at, updated_at=now)
        self.endpoints[endpoint_id] = e
        return e

    # -- WebhookQueue
    def _due(self, endpoint_id: str) -> builtins.list[_Row]:
        now = self._now()
        due = [
            r
            for r in self.rows
            if r.record.endpoint_id == endpoint_id
            and r.record.state == "pending"
            and r.due_at <= now
        ]
        return sorted(due, key=lambda r: (r.due_at, r.record.id))

    async def claim(
        self, limit: int, lease_s: float, busy: builtins.list[str]
    ) -> builtins.list[ClaimedEndpoint]:
        now = self._now()
        free = [
            e
            for e in self.endpoints.values()
            if e.status == "enabled"
            and e.id not in busy
            and self.leases.get(e.id, now) <= now
            and self._due(e.id)
        ][:limit]
        for e in free:
            self.leases[e.id] = now + timedelta(seconds=lease_s)
        return [
            ClaimedEndpoint(
                e.id,
                e.url,
                self.secrets[e.id],
                e.failing_since,
                *self.previous.get(e.id, (None, None)),
            )
            for e in free
        ]

    async def next_due(self, endpoint_id: str, limit: int) -> builtins.list[DueDelivery]:
        return [
            DueDelivery(
                r.record.id,
                r.record.event_id,
                r.record.type,
                r.record.attempt,
                r.first_try_at,
                self.events[r.record.event_id],
            )
            for r in self._due(endpoint_id)[:limit]
        ]

    async def record(self, outcome: DeliveryOutcome, lease_s: float) -> None:
        row = next(r for r in self.rows if r.record.id == outcome.delivery_id)
        result = outcome.result
        state = (
            "delivered" if result.delivered else "failed" if outcome.next_retry_at else "abandoned"
        )
        row.record = replace(
            row.record,
            state=state,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            attempted_at=outcome.attempted_at,
            next_retry_at=outcome.next_retry_at,
            delivered_at=outcome.attempted_at if result.delivered else None,
        )
        if outcome.next_retry_at is not None:
            d = row.record
            self._queue(
                d.endpoint_id,
                d.event_id,
                d.type,
                d.attempt + 1,
                outcome.next_retry_at,
                row.first_try_at,
            )
        e = self.endpoints[outcome.endpoint_id]
        status = "disabled" if outcome.disable_endpoint else e.status
        self.endpoints[e.id] = replace(e, failing_since=outcome.failing_since, status=status)
        self.leases[e.id] = self._now() + timedelta(seconds=lease_s)

    async def release(self, endpoint_id: str) -> None:
        self.leases.pop(endpoint_id, None)
