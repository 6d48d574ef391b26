"""RoutingRepository over PostgreSQL: each country's gateways and their priorities.

Only the data lives here; ranking and eligibility are domain rules
(``domain.routing.rank_gateways``).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from application.ports import GatewayInfo
from domain.routing import GatewayRoute, Priority
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

SELECT_GATEWAYS = """
SELECT id, name, format, admin_status, operations, currencies FROM gateways ORDER BY id
"""

SET_ADMIN_STATUS = """
UPDATE gateways SET admin_status = %(status)s, updated_at = now() WHERE id = %(id)s
"""

SELECT_PRIORITIES = """
SELECT gateway_id, priority FROM gateway_countries
WHERE country_code = %(country)s ORDER BY priority, gateway_id
"""

DELETE_PRIORITIES = "DELETE FROM gateway_countries WHERE country_code = %(country)s"

INSERT_PRIORITY = """
INSERT INTO gateway_countries (country_code, gateway_id, priority)
VALUES (%(country)s, %(gateway_id)s, %(priority)s)
"""


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

    async def list_gateways(self) -> list[GatewayInfo]:
        async with self._conn.cursor() as cur:
            await cur.execute(SELECT_GATEWAYS)
            rows = await cur.fetchall()
        return [
            GatewayInfo(gid, name, fmt, status, frozenset(ops), frozenset(currencies))
            for gid, name, fmt, status, ops, currencies in rows
        ]

    async def set_admin_status(self, gateway_id: str, status: str) -> bool:
        async with self._conn.cursor() as cur:
            await cur.execute(SET_ADMIN_STATUS, {"id": gateway_id, "status": status})
            return cur.rowcount == 1

    async def country_priorities(self, country: str) -> list[Priority]:
        async with self._conn.cursor() as cur:
            await cur.execute(SELECT_PRIORITIES, {"country": country})
            rows = await cur.fetchall()
        return [Priority(gid, prio) for gid, prio in rows]

    async def replace_country_priorities(self, country: str, entries: list[Priority]) -> None:
        # The (country, priority) constraint is deferred, so the old rows and the
        # new ones never clash mid-transaction.
        async with self._conn.cursor() as cur:
            await cur.execute(DELETE_PRIORITIES, {"country": country})
            if entries:
                await cur.executemany(
                    INSERT_PRIORITY,
                    [
                        {"country": country, "gateway_id": e.gateway_id, "priority": e.priority}
                        for e in entries
                    ],
                )
