"""Merge success_rate's windows from every replica's recorded attempts.

No new writes on the payment path: the attempts are already stored with
their outcome class and latency; this reads the latest ``window`` of them per
(country, gateway) within ``horizon_s`` and hands them to the in-process
windows (adapters/routing_stats.py).
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

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
        pool: AsyncConnectionPool,
        stats: WindowedRoutingStats,
        *,
        window: int,
        interval_s: float = 2.0,
        horizon_s: float = 3600.0,
    ) -> None:
        self._pool = pool
        self._stats = stats
        self._window = window
        self._interval_s = interval_s
        self._horizon_s = horizon_s

    async def refresh(self) -> None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                RECENT_ATTEMPTS, {"horizon_s": self._horizon_s, "window": self._window}
            )
            rows = await cur.fetchall()
        self._stats.replace((r[0].strip(), r[1], bool(r[2]), r[3]) for r in rows)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep routing on the local window meanwhile
                log.warning("routing statistics refresh failed (%s)", type(exc).__name__)
            await asyncio.sleep(self._interval_s)
