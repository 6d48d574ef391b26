"""RoutingRepository over PostgreSQL: each country's gateways and their priorities.

Only the data lives here; ranking and eligibility are domain rules
(``domain.routing.rank_gateways``).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from domain.routing import GatewayRoute
from domain.transaction import TransactionType

SELECT_ROUTES = """
SELECT gc.gateway_id, gc.priority, g.operations, g.currencies,
       g.admin_status = 'up' AS enabled
FROM gateway_countries gc
JOIN gateways g ON g.id = gc.gateway_id
WHERE gc.country_code = %(country)s
ORDER BY gc.priority, gc.gateway_id
"""

COUNTRY_EXISTS = "SELECT EXISTS (SELECT 1 FROM countries WHERE code = %(country)s)"


class PostgresRoutingRepository:
    """RoutingRepository on the unit of work's connection."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        """Every gateway configured for the country (ordered by priority, as a courtesy)."""
        async with self._conn.cursor() as cur:
            await cur.execute(SELECT_ROUTES, {"country": country})
            rows = await cur.fetchall()
        return [
            GatewayRoute(
                gateway_id=gateway_id,
                priority=priority,
                operations=frozenset(TransactionType(op) for op in operations),
                currencies=frozenset(currencies),
                enabled=enabled,
            )
            for gateway_id, priority, operations, currencies, enabled in rows
        ]

    async def country_exists(self, country: str) -> bool:
        """Whether the country is configured at all."""
        async with self._conn.cursor() as cur:
            await cur.execute(COUNTRY_EXISTS, {"country": country})
            row = await cur.fetchone()
        return row is not None and bool(row[0])
