"""Operator actions on webhook endpoints go to the audit trail."""

from __future__ import annotations

from typing import Any

from application.log_context import current_actor
from application.ports import UnitOfWorkFactory


async def audit(
    uow_factory: UnitOfWorkFactory, action: str, subject_id: str, details: dict[str, Any]
) -> None:
    """Append one audit entry (its own short transaction), by the bound actor."""
    async with uow_factory() as uow:
        await uow.audit.record(
            current_actor() or "system", action, "webhook_endpoint", subject_id, details
        )
        await uow.commit()
