"""Ports for what is kept for humans: the audit trail and reconciliation issues."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    occurred_at: datetime
    actor: str
    action: str
    details: dict[str, Any]


class AuditLog(Protocol):
    """Append-only record of who did what (state changes, operator actions)."""

    async def record(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        """Append one entry in the current database transaction."""

    async def history(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        """Every entry about one subject, oldest first."""


@dataclass(frozen=True, slots=True)
class ReconciliationIssue:
    id: int
    transaction_id: str
    gateway_id: str | None
    kind: str
    detail: str
    created_at: datetime
    resolved_at: datetime | None


class IssueLog(Protocol):
    """Findings that need a human: contradictions, amount mismatches, money at a gateway."""

    async def flag(
        self, transaction_id: str, gateway_id: str | None, kind: str, detail: str
    ) -> None:
        """Record a finding once per (transaction, gateway, kind), with the commit."""

    async def list(self, *, open_only: bool, limit: int) -> builtins.list[ReconciliationIssue]:
        """Newest first."""
