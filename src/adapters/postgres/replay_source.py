"""RecordedTraffic over PostgreSQL: the period's transactions and their attempts."""

from __future__ import annotations

from datetime import datetime

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from application.ports.replay import RecordedPayment
from domain.routing_replay import GatewaySample
from domain.transaction import TransactionType

PAYMENTS = """
SELECT t.id::text AS id, u.country_code, t.type, t.amount_minor, t.currency,
       a.gateway_id, a.latency_ms,
       EXISTS (SELECT 1 FROM transaction_attempts x
               WHERE x.transaction_id = t.id AND x.outcome = 'accepted') AS succeeded
FROM transactions t
JOIN users u ON u.id = t.user_id
JOIN transaction_attempts a ON a.transaction_id = t.id AND a.attempt_no = 1
WHERE t.created_at >= %(since)s AND t.created_at < %(until)s
  AND t.type IN ('deposit', 'withdrawal')
ORDER BY t.created_at, t.id
"""

SAMPLES = """
SELECT u.country_code, a.gateway_id, count(*) AS attempts,
       count(*) FILTER (WHERE a.outcome = 'accepted') AS successes,
       avg(a.latency_ms)::float8 AS latency_mean, stddev_samp(a.latency_ms)::float8 AS latency_sd
FROM transactions t
JOIN users u ON u.id = t.user_id
JOIN transaction_attempts a ON a.transaction_id = t.id
WHERE t.created_at >= %(since)s AND t.created_at < %(until)s
  AND t.type IN ('deposit', 'withdrawal') AND a.outcome <> 'in_flight'
GROUP BY u.country_code, a.gateway_id
"""


class PostgresRecordedTraffic:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def payments(self, since: datetime, until: datetime) -> list[RecordedPayment]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(PAYMENTS, {"since": since, "until": until})
            rows = await cur.fetchall()
        return [
            RecordedPayment(
                r["id"],
                r["country_code"].strip(),
                TransactionType(r["type"]),
                r["amount_minor"],
                r["currency"].strip(),
                r["gateway_id"],
                r["succeeded"],
                r["latency_ms"],
            )
            for r in rows
        ]

    async def samples(
        self, since: datetime, until: datetime
    ) -> dict[tuple[str, str], GatewaySample]:
        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SAMPLES, {"since": since, "until": until})
            rows = await cur.fetchall()
        return {
            (r["country_code"].strip(), r["gateway_id"]): GatewaySample(
                r["attempts"], r["successes"], r["latency_mean"], r["latency_sd"]
            )
            for r in rows
        }
