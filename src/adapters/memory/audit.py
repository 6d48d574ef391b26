"""In-memory AuditLog and IssueLog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.memory.store import Staged
from application.ports import AuditEntry, ReconciliationIssue


class MemoryAuditLog:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        entry = AuditEntry(datetime.now(UTC), actor, action, dict(details))
        self._staged.audit.append((subject_type, subject_id, entry))

    async def history(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        rows = self._staged.store.audit + self._staged.audit
        return [e for t, i, e in rows if (t, i) == (subject_type, subject_id)]


class MemoryIssueLog:
    def __init__(self, staged: Staged) -> None:
        self._staged = staged

    async def flag(
        self, transaction_id: str, gateway_id: str | None, kind: str, detail: str
    ) -> None:
        known = self._staged.store.issues + self._staged.issues
        # As the table's UNIQUE (transaction_id, gateway_id, kind): NULLs are
        # distinct there, so a finding without a gateway is never a duplicate.
        if gateway_id is not None and any(
            (i.transaction_id, i.gateway_id, i.kind) == (transaction_id, gateway_id, kind)
            for i in known
        ):
            return
        self._staged.issues.append(
            ReconciliationIssue(
                len(known) + 1, transaction_id, gateway_id, kind, detail, datetime.now(UTC), None
            )
        )

    async def list(self, *, open_only: bool, limit: int) -> list[ReconciliationIssue]:
        rows = [i for i in self._staged.store.issues if not open_only or i.resolved_at is None]
        return sorted(rows, key=lambda i: i.id, reverse=True)[:limit]
