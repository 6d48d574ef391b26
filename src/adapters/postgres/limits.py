"""LimitRepository over PostgreSQL: limits, reversal windows and the admission reads.

``admission`` is read inside the unit of work that creates the payment, in
one pipeline flush: BEGIN; when a per-day limit applies, a transaction-scoped
advisory lock on (user, currency, operation) and the payments it counts; for
a withdrawal, the available account's row ``FOR UPDATE`` (only while some
deposit is inside a reversal window) and what is still inside one. The locks
are held until the creating commit, so a second payment of the same user
waits and then counts the first: concurrent requests cannot slip past a
limit together. The row lock is the one the
hold takes anyway, so a refund or another withdrawal cannot change the
balance between the check and the hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.postgres.session import Query, Session
from application.ports import AdmissionView, CountryLimits
from domain.closed_loop import FundingSource
from domain.limits import Counted, VelocityLimit
from domain.transaction import TransactionType

SELECT_LIMITS = """
SELECT c.currency, c.closed_loop, l.operation,
       l.max_amount_minor, l.daily_amount_minor, l.daily_count
FROM countries c LEFT JOIN country_limits l ON l.country_code = c.code
WHERE c.code = %(country)s
"""

DELETE_LIMITS = "DELETE FROM country_limits WHERE country_code = %(country)s"

INSERT_LIMIT = """
INSERT INTO country_limits
    (country_code, operation, max_amount_minor, daily_amount_minor, daily_count)
VALUES (%(country)s, %(operation)s, %(max)s, %(daily_amount)s, %(daily_count)s)
"""

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"

# Legs of a closed-loop withdrawal are part of their parent: the parent counts.
SELECT_COUNTED = """
SELECT created_at, amount_minor FROM transactions
WHERE user_id = %(user_id)s AND type = %(type)s AND currency = %(currency)s
  AND status <> 'failed' AND parent_transaction_id IS NULL AND created_at > %(since)s
"""

# Completed deposits still inside their gateway's reversal window (from
# completion), net of what refunds (not failed) already claimed of them.
IN_WINDOW = """
SELECT d.currency, sum(d.amount_minor - COALESCE(
    (SELECT sum(r.amount_minor) FROM transactions r
     WHERE r.parent_transaction_id = d.id AND r.type = 'refund' AND r.status <> 'failed'), 0))
    AS minor
FROM transactions d JOIN gateways g ON g.id = d.gateway_id
WHERE d.user_id = %(user_id)s AND d.type = 'deposit' AND d.status = 'completed'
  AND g.reversal_window_hours > 0
  AND d.updated_at + make_interval(hours => g.reversal_window_hours) > %(at)s
GROUP BY d.currency
"""

# The available row, locked as the hold will lock it, only when some deposit
# in this currency is still inside a window (the same condition as above):
# otherwise the hold's own CHECK is the whole rule, and a withdrawal locks no
# earlier than it always did.
LOCK_AVAILABLE = """
SELECT balance_minor FROM ledger_accounts
WHERE user_id = %(user_id)s AND currency = %(currency)s AND kind = 'available'
  AND EXISTS (
    SELECT 1 FROM transactions d JOIN gateways g ON g.id = d.gateway_id
    WHERE d.user_id = %(user_id)s AND d.currency = %(currency)s AND d.type = 'deposit'
      AND d.status = 'completed' AND g.reversal_window_hours > 0
      AND d.updated_at + make_interval(hours => g.reversal_window_hours) > %(at)s)
FOR UPDATE
"""

# Per gateway: completed deposits net of refunds not failed, and the legs of
# closed-loop withdrawals (not failed) that went back through it.
FUNDING_SOURCES = """
SELECT d.gateway_id, max(d.updated_at) AS last_funded_at,
       sum(d.amount_minor - COALESCE(
           (SELECT sum(r.amount_minor) FROM transactions r
            WHERE r.parent_transaction_id = d.id AND r.type = 'refund'
              AND r.status <> 'failed'), 0))::bigint AS funded,
       COALESCE((SELECT sum(l.amount_minor) FROM transactions l
                 WHERE l.user_id = %(user_id)s AND l.currency = %(currency)s
                   AND l.type = 'withdrawal' AND l.parent_transaction_id IS NOT NULL
                   AND l.status <> 'failed' AND l.gateway_id = d.gateway_id), 0)::bigint
           AS returned
FROM transactions d
WHERE d.user_id = %(user_id)s AND d.currency = %(currency)s AND d.type = 'deposit'
  AND d.status = 'completed' AND d.gateway_id IS NOT NULL
GROUP BY d.gateway_id
"""

SET_WINDOW = """
UPDATE gateways SET reversal_window_hours = %(hours)s, updated_at = now() WHERE id = %(id)s
"""


class PostgresLimits:
    """LimitRepository on the unit of work's session (writes join its transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def country_limits(self, country: str) -> CountryLimits | None:
        rows = await self._session.fetch(SELECT_LIMITS, {"country": country})
        if not rows:
            return None
        per_operation = {
            TransactionType(r["operation"]): VelocityLimit(
                r["max_amount_minor"], r["daily_amount_minor"], r["daily_count"]
            )
            for r in rows
            if r["operation"] is not None
        }
        return CountryLimits(rows[0]["currency"], per_operation, rows[0]["closed_loop"])

    async def replace_country_limits(self, country: str, limits: CountryLimits) -> None:
        self._session.queue(DELETE_LIMITS, {"country": country})
        for operation, limit in sorted(limits.per_operation.items()):
            if limit.unlimited:
                continue
            self._session.queue(
                INSERT_LIMIT,
                {
                    "country": country,
                    "operation": operation.value,
                    "max": limit.max_minor,
                    "daily_amount": limit.daily_amount_minor,
                    "daily_count": limit.daily_count,
                },
            )

    async def admission(
        self,
        *,
        user_id: int,
        currency: str,
        operation: TransactionType,
        counted_since: datetime | None,
        funds_at: datetime | None,
    ) -> AdmissionView:
        params: dict[str, Any] = {
            "key": f"payments.admission:{user_id}:{currency}:{operation.value}",
            "user_id": user_id,
            "currency": currency,
            "type": operation.value,
            "since": counted_since,
            "at": funds_at,
        }
        # Only a per-day limit needs the advisory lock (a withdrawal without one
        # is serialised by its account rows, as it always was).
        queries: list[Query] = []
        if counted_since is not None:
            queries += [(LOCK, params), (SELECT_COUNTED, params)]
        if funds_at is not None:
            queries += [(LOCK_AVAILABLE, params), (IN_WINDOW, params)]
        results = await self._session.fetch_all(queries, lock=True)
        recent = (
            [Counted(r["created_at"], r["amount_minor"]) for r in results[1]]
            if counted_since is not None
            else []
        )
        if funds_at is None:
            return AdmissionView(recent)
        available, windows = results[-2], results[-1]
        if not available:
            return AdmissionView(recent)  # nothing inside a window (or no balance at all)
        in_window = next((int(r["minor"]) for r in windows if r["currency"] == currency), 0)
        return AdmissionView(recent, available[0]["balance_minor"], in_window)

    async def in_window(self, user_id: int, at: datetime) -> dict[str, int]:
        rows = await self._session.fetch(IN_WINDOW, {"user_id": user_id, "at": at})
        return {r["currency"]: int(r["minor"]) for r in rows}

    async def set_reversal_window(self, gateway_id: str, hours: int) -> bool:
        return await self._session.execute(SET_WINDOW, {"id": gateway_id, "hours": hours}) == 1

    async def funding_sources(self, user_id: int, currency: str) -> list[FundingSource]:
        rows = await self._session.fetch(
            FUNDING_SOURCES, {"user_id": user_id, "currency": currency}
        )
        return [
            FundingSource(r["gateway_id"], r["funded"], r["returned"], r["last_funded_at"])
            for r in rows
        ]
