"""Readiness: is every dependency this process needs answering, and is
settlement keeping up?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from adapters.observability import SETTLEMENT_BACKLOG, SETTLEMENT_OLDEST
from application.ports import Database, MessagePublisher
from application.settlement_backlog import GetSettlementBacklog


@dataclass
class ReadinessReport:
    checks: dict[str, str]  # name -> ok | unavailable | degraded
    settlement: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


class Readiness:
    def __init__(
        self,
        database: Database,
        publisher: MessagePublisher,
        kafka_configured: bool,
        settlement: GetSettlementBacklog,
    ) -> None:
        self._database = database
        self._publisher = publisher
        self._kafka = kafka_configured
        self._settlement = settlement

    async def check(self) -> ReadinessReport:
        probes = {"database": self._database.ping()}
        ping = getattr(self._publisher, "ping", None)
        if self._kafka and ping is not None:
            probes["kafka"] = ping()
        results = await asyncio.gather(*probes.values())
        checks = {n: "ok" if up else "unavailable" for n, up in zip(probes, results, strict=True)}
        report = ReadinessReport(checks)
        if checks["database"] == "ok":
            try:
                health = await self._settlement.execute()
            except Exception:
                checks["settlement"] = "unavailable"
            else:
                SETTLEMENT_BACKLOG.set(health.backlog.unapplied)
                SETTLEMENT_OLDEST.set(health.backlog.oldest_s)
                checks["settlement"] = "degraded" if health.degraded else "ok"
                report.settlement = {
                    "unapplied_callbacks": health.backlog.unapplied,
                    "oldest_unapplied_s": round(health.backlog.oldest_s, 1),
                    "threshold_s": health.threshold_s,
                }
        return report
