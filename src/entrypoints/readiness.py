"""Readiness: is every dependency this process needs answering?"""

from __future__ import annotations

import asyncio

from application.ports import Database, MessagePublisher


class Readiness:
    def __init__(
        self, database: Database, publisher: MessagePublisher, kafka_configured: bool
    ) -> None:
        self._database = database
        self._publisher = publisher
        self._kafka = kafka_configured

    async def check(self) -> dict[str, bool]:
        checks = {"database": self._database.ping()}
        ping = getattr(self._publisher, "ping", None)
        if self._kafka and ping is not None:
            checks["kafka"] = ping()
        results = await asyncio.gather(*checks.values())
        return dict(zip(checks, results, strict=True))
