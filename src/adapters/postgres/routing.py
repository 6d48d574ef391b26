"""RoutingRepository over PostgreSQL: each country's gateways and their priorities.

Only the data lives here; ranking and eligibility are domain rules
(``domain.routing.rank_gateways``).
"""

from __future__ import annotations

from adapters.postgres.routing_documents import PostgresRoutingDocuments
from adapters.postgres.session import Session
from application.ports import GatewayInfo
from domain.routing import GatewayRoute, Priority
from domain.routing_config import RoutingConfig
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
    """RoutingRepository on the unit of work's session (writes join its transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._documents = PostgresRoutingDocuments(session)

    async def routes_for_country(self, country: str) -> list[GatewayRoute]:
        """Every gateway configured for the country (ordered by priority, as a courtesy)."""
        rows = await self._session.fetch(SELECT_ROUTES, {"country": country})
        return [
            GatewayRoute(
                gateway_id=r["gateway_id"],
                priority=r["priority"],
                operations=frozenset(TransactionType(op) for op in r["operations"]),
                currencies=frozenset(r["currencies"]),
                enabled=r["enabled"],
            )
            for r in rows
        ]

    async def country_exists(self, country: str) -> bool:
        """Whether the country is configured at all."""
        rows = await self._session.fetch(COUNTRY_EXISTS, {"country": country})
        return bool(rows and rows[0]["exists"])

    async def list_gateways(self) -> list[GatewayInfo]:
        rows = await self._session.fetch(SELECT_GATEWAYS)
        return [
            GatewayInfo(
                r["id"],
                r["name"],
                r["format"],
                r["admin_status"],
                frozenset(r["operations"]),
                frozenset(r["currencies"]),
            )
            for r in rows
        ]

    async def set_admin_status(self, gateway_id: str, status: str) -> bool:
        return (
            await self._session.execute(SET_ADMIN_STATUS, {"id": gateway_id, "status": status}) == 1
        )

    async def country_priorities(self, country: str) -> list[Priority]:
        rows = await self._session.fetch(SELECT_PRIORITIES, {"country": country})
        return [Priority(r["gateway_id"], r["priority"]) for r in rows]

    async def replace_country_priorities(self, country: str, entries: list[Priority]) -> None:
        # The (country, priority) constraint is deferred, so the old rows and the
        # new ones never clash mid-transaction.
        self._session.queue(DELETE_PRIORITIES, {"country": country})
        for e in entries:
            self._session.queue(
                INSERT_PRIORITY,
                {"country": country, "gateway_id": e.gateway_id, "priority": e.priority},
            )

    async def routing_document(self, country: str) -> RoutingConfig | None:
        return await self._documents.load(country)

    async def save_routing_document(self, country: str, config: RoutingConfig) -> None:
        await self.replace_country_priorities(country, config.as_priorities())
        self._documents.save(country, config)

    async def forget_routing_document(self, country: str) -> None:
        self._documents.forget(country)
