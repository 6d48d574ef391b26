"""Countries' routing documents over PostgreSQL (country_routing, migration 0012).

A country without a document routes by its priority list (gateway_countries);
saving a document also rewrites that list (every gateway it names, in order
of first appearance), so everything reading the list keeps seeing the
country's gateways.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from adapters.postgres.session import Session
from application.routing_document import rule_from, rules_to, tiers_from, tiers_to
from domain.routing import Priority
from domain.routing_config import RoutingConfig, Strategy, from_priorities

SELECT_DOCUMENT = """
SELECT c.closed_loop, r.strategy, r.tiers, r.rules
FROM countries c LEFT JOIN country_routing r ON r.country_code = c.code
WHERE c.code = %(country)s
"""

SELECT_PRIORITIES = """
SELECT gateway_id, priority FROM gateway_countries WHERE country_code = %(country)s
"""

UPSERT_DOCUMENT = """
INSERT INTO country_routing (country_code, strategy, tiers, rules)
VALUES (%(country)s, %(strategy)s, %(tiers)s, %(rules)s)
ON CONFLICT (country_code) DO UPDATE
SET strategy = EXCLUDED.strategy, tiers = EXCLUDED.tiers, rules = EXCLUDED.rules,
    updated_at = now()
"""

SET_CLOSED_LOOP = "UPDATE countries SET closed_loop = %(closed_loop)s WHERE code = %(country)s"

DELETE_DOCUMENT = "DELETE FROM country_routing WHERE country_code = %(country)s"


class PostgresRoutingDocuments:
    """Read and write one country's document on the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def load(self, country: str) -> RoutingConfig | None:
        """The country's document (its priority list when it has none); None: no country."""
        rows = await self._session.fetch(SELECT_DOCUMENT, {"country": country})
        if not rows:
            return None
        row = rows[0]
        if row["strategy"] is None:
            prio = await self._session.fetch(SELECT_PRIORITIES, {"country": country})
            entries = [Priority(r["gateway_id"], r["priority"]) for r in prio]
            return from_priorities(entries, closed_loop=row["closed_loop"])
        return RoutingConfig(
            Strategy(row["strategy"]),
            tiers_from(row["tiers"]),
            tuple(rule_from(r) for r in row["rules"]),
            row["closed_loop"],
        )

    def save(self, country: str, config: RoutingConfig) -> None:
        """Queue the document (the caller rewrites the priority list in the same unit)."""
        self._session.queue(
            UPSERT_DOCUMENT,
            {
                "country": country,
                "strategy": config.strategy.value,
                "tiers": Jsonb(tiers_to(config.tiers)),
                "rules": Jsonb(rules_to(config.rules)),
            },
        )
        self.set_closed_loop(country, config.closed_loop)

    def set_closed_loop(self, country: str, closed_loop: bool) -> None:
        self._session.queue(SET_CLOSED_LOOP, {"country": country, "closed_loop": closed_loop})

    def forget(self, country: str) -> None:
        """Back to the plain priority list (PUT /countries/{code}/gateways)."""
        self._session.queue(DELETE_DOCUMENT, {"country": country})
