"""How far settlement is behind: the oldest callback received but not applied.

Readiness reports it (degraded past a threshold) and a gauge exports it, so
a stuck settlement path is visible at once instead of as deposits that stay
``processing`` while every probe says 200.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import SettlementBacklog, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SettlementHealth:
    backlog: SettlementBacklog
    threshold_s: float

    @property
    def degraded(self) -> bool:
        return self.backlog.oldest_s > self.threshold_s


class GetSettlementBacklog:
    def __init__(self, uow: UnitOfWorkFactory, threshold_s: float) -> None:
        self._uow = uow
        self._threshold_s = threshold_s

    async def execute(self) -> SettlementHealth:
        async with self._uow() as uow:
            return SettlementHealth(await uow.inbox.backlog(), self._threshold_s)
