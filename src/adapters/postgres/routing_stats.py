"""Merge success_rate's windows from every replica's recorded attempts.

No new writes on the payment path: the attempts are already stored with
their outcome class and latency; this reads the latest ``window`` of them per
(country, gateway) within ``horizon_s`` and hands them to the in-process
windows (adapters/routing_stats.py). On a connection of its own, like the
routing change listener: it never takes one from the payments' pool.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from adapters.routing_stats import WindowedRoutingStats

log = logging.getLogger(__name__)

RECENT_ATTEMPTS = """
SELECT country_code, gateway_id, outcome = 'accepted' AS ok, latency_ms FROM (
    SELECT u.country_code, a.gateway_id, a.outcome, a.latency_ms, a.started_at,
           row_number() OVER (
               PARTITION BY u.country_code, a.gateway_id ORDER BY a.started_at DESC
           ) AS n
    FROM transaction_attempts a
    JOIN transactions t ON t.id = a.transaction_id
    JOIN users u ON u.id = t.user_id
    WHERE a.started_at > now() - make_interval(secs => %(horizon_s)s)
      AND a.outcome <> 'in_flight' AND t.type IN ('deposit', 'withdrawal')
) recent
WHERE n <= %(window)s
ORDER BY country_code, gateway_id, started_at
"""


class RoutingStatsRefresher:
    def __init__(
        self,
        database_url: str,
        stats: WindowedRoutingStats,
        *,
        window: int,
        interval_s: float = 2.0,
        horizon_s: float = 3600.0,
    ) -> None:
        self._url = database_url
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._stats = stats
        self._window = window
        self._interval_s = interval_s
        self._horizon_s = horizon_s

    async def refresh(self) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
        cur = await self._conn.execute(
            RECENT_ATTEMPTS, {"horizon_s": self._horizon_s, "window": self._window}
        )
        rows = await cur.fetchall()
        self._stats.replace((r[0].strip(), r[1], bool(r[2]), r[3]) for r in rows)

    async def run_forever(self) -> None:
        try:
            await self._loop()
        finally:
            await self._close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep routing on the local window meanwhile
                log.warning("routing statistics refresh failed (%s)", type(exc).__name__)
                await self._close()
            await asyncio.sleep(self._interval_s)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # already broken: nothing more to release
                log.debug("closing the routing statistics connection failed", exc_info=True)
