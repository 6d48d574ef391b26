"""Set a gateway's reversal window (admin key): its deposits are not withdrawable meanwhile."""

from __future__ import annotations

from application.log_context import current_actor
from application.ports import UnitOfWorkFactory
from domain.errors import InvalidInput, NotFound

MAX_HOURS = 8760  # a year; the column's CHECK (migration 0013)


class SetReversalWindow:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, gateway_id: str, hours: int) -> int:
        if isinstance(hours, bool) or not 0 <= hours <= MAX_HOURS:
            raise InvalidInput(f"reversal_window_hours must be 0 to {MAX_HOURS}")
        async with self._uow() as uow:
            if not await uow.limits.set_reversal_window(gateway_id, hours):
                raise NotFound(f"gateway {gateway_id} does not exist")
            await uow.audit.record(
                current_actor() or "system",
                "gateway.reversal_window_set",
                "gateway",
                gateway_id,
                {"reversal_window_hours": hours},
            )
            await uow.commit()
        return hours
