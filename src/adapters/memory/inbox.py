"""In-memory CallbackInbox: one row per (gateway, event id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from adapters.memory.store import InboxRow, Staged
from application.ports import GatewayCallback, InboxState, SettlementBacklog


class MemoryInbox:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    def _row(self, key: tuple[str, str]) -> InboxRow | None:
        return self._staged.inbox.get(key) or self._staged.store.inbox.get(key)

    async def add(self, callback: GatewayCallback, raw_body: bytes) -> bool:
        key = (callback.gateway_id, callback.event_id)
        if self._row(key) is not None:
            return False
        self._staged.inbox[key] = InboxRow(callback, raw_body)
        return True

    async def lock(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], InboxState]:
        return {
            key: InboxState(row.status, row.apply_attempts)
            for key in keys
            if (row := self._row(key)) is not None
        }

    async def resolve(self, gateway_id: str, event_id: str, status: str, detail: str) -> None:
        row = self._row((gateway_id, event_id))
        if row is not None:
            self._staged.inbox[(gateway_id, event_id)] = replace(
                row, status=status, detail=detail, next_attempt_at=None
            )

    async def record_failure(
        self, gateway_id: str, event_id: str, error: str, retry_at: datetime | None
    ) -> None:
        row = self._row((gateway_id, event_id))
        if row is not None:
            self._staged.inbox[(gateway_id, event_id)] = replace(
                row,
                apply_attempts=row.apply_attempts + 1,
                next_attempt_at=retry_at,
                status="quarantined" if retry_at is None else row.status,
                detail=error if retry_at is None else row.detail,
            )

    async def due_for_retry(self, now: datetime, limit: int) -> list[GatewayCallback]:
        rows = {**self._staged.store.inbox, **self._staged.inbox}.values()
        due = [
            r
            for r in rows
            if r.status == "received" and r.next_attempt_at is not None and r.next_attempt_at <= now
        ]
        return [r.callback for r in sorted(due, key=lambda r: r.next_attempt_at or now)][:limit]

    async def backlog(self) -> SettlementBacklog:
        rows = [
            r
            for r in {**self._staged.store.inbox, **self._staged.inbox}.values()
            if r.status == "received"
        ]
        if not rows:
            return SettlementBacklog(0, 0.0)
        oldest = min(r.received_at for r in rows)
        return SettlementBacklog(len(rows), (datetime.now(UTC) - oldest).total_seconds())
