"""One unit of work's conversation with PostgreSQL, in as few round trips as possible.

The connection runs in autocommit mode and we send ``BEGIN``/``COMMIT``
ourselves, in pipeline mode, so that they travel with the statements around
them instead of costing a round trip each:

- reads that need no lock run without ``BEGIN`` (statements pipelined before
  one Sync form one implicit transaction, so a row and its children are read
  consistently) - one round trip;
- reads that lock rows (``FOR UPDATE``) open the transaction in the same
  flush - one round trip;
- writes are queued and sent at ``commit()`` with ``BEGIN`` (if not yet
  open) and ``COMMIT`` in a single flush - one round trip. A failing
  statement aborts the rest, so nothing is kept. A lone statement with no
  transaction open is sent as it is: it is its own transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row

Query = tuple[str, dict[str, Any] | Sequence[Any] | None]


class Session:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self._queued: list[Query] = []
        self._begun = False
        self._savepoints = 0
        # Set when an error escaped from inside a pipeline block (see _pipeline).
        self.tainted = False

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != TransactionStatus.IDLE

    # -- reads ---------------------------------------------------------------
    async def fetch(
        self,
        query: str,
        params: dict[str, Any] | Sequence[Any] | None = None,
        *,
        lock: bool = False,
    ) -> list[DictRow]:
        """Rows of one query as dicts (``lock``: inside the transaction, e.g. FOR UPDATE)."""
        return (await self.fetch_all([(query, params)], lock=lock))[0]

    async def fetch_all(
        self, queries: Sequence[Query], *, lock: bool = False
    ) -> list[list[DictRow]]:
        """Rows of several queries, sent together: one round trip."""
        if len(queries) == 1 and (self._begun or not lock):
            one = self.conn.cursor(row_factory=dict_row)
            await one.execute(queries[0][0], queries[0][1])
            return [await one.fetchall() if one.description else []]
        cursors: list[AsyncCursor[DictRow]] = []
        async with self._pipeline():
            if lock and not self._begun:
                await self.conn.execute("BEGIN")
                self._begun = True
            for query, params in queries:
                cur = self.conn.cursor(row_factory=dict_row)
                await cur.execute(query, params)
                cursors.append(cur)
        return [await cur.fetchall() if cur.description else [] for cur in cursors]

    async def execute(self, query: str, params: dict[str, Any] | Sequence[Any] | None) -> int:
        """Run one write now, inside the transaction; its row count."""
        async with self._pipeline():
            await self._begin_if_needed()
            cur = self.conn.cursor()
            await cur.execute(query, params)
        return cur.rowcount

    # -- writes ----------------------------------------------------------------
    def queue(self, query: str, params: dict[str, Any] | Sequence[Any] | None = None) -> None:
        """A write sent with the next flush (``commit`` or a savepoint's end)."""
        self._queued.append((query, params))

    async def commit(self) -> None:
        """BEGIN (if needed), every queued write and COMMIT: one round trip."""
        queued, self._queued = self._queued, []
        if not queued and not self._begun:
            return  # nothing was read under a lock and nothing is to be written
        if len(queued) == 1 and not self._begun:
            # One statement is atomic on its own (autocommit): no BEGIN/COMMIT.
            await self.conn.execute(*queued[0])
            return
        async with self._pipeline():
            if queued:
                await self._begin_if_needed()
            for query, params in queued:
                await self.conn.execute(query, params)
            await self.conn.execute("COMMIT")
        self._begun = False

    async def rollback(self) -> None:
        """Forget queued writes and end the transaction if one is open."""
        self._queued = []
        if self.in_transaction:
            await self.conn.execute("ROLLBACK")
        self._begun = False

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Writes queued inside the block succeed or fail together, apart from the rest.

        On a clean exit they are flushed at once between SAVEPOINT and
        RELEASE (one round trip); if the block or its flush raises, the
        transaction is rolled back to the savepoint and goes on.
        """
        self._savepoints += 1
        name = f"unit_{self._savepoints}"
        outer, self._queued = self._queued, []
        try:
            yield
            inner, self._queued = self._queued, []
            async with self._pipeline():
                await self._begin_if_needed()
                for query, params in outer:
                    await self.conn.execute(query, params)
                outer = []
                await self.conn.execute(f"SAVEPOINT {name}")
                for query, params in inner:
                    await self.conn.execute(query, params)
                await self.conn.execute(f"RELEASE SAVEPOINT {name}")
        except BaseException:
            self._queued = outer
            if self.conn.info.transaction_status == TransactionStatus.INERROR:
                await self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        self._queued = outer

    @asynccontextmanager
    async def _pipeline(self) -> AsyncIterator[None]:
        """``conn.pipeline()``, noting any error it raises.

        After a statement fails inside a pipeline, psycopg's cache of prepared
        statements can name statements the server never prepared (the ones
        queued behind the failure): later uses of that connection then fail
        with "prepared statement ... does not exist" (seen as 500s in
        tests/integration/test_concurrency.py, where racing withdrawals hit
        the no-overdraft CHECK). A tainted connection is closed by the unit
        of work, never reused; errors in a pipeline are the rare path (the
        domain refuses most bad requests before any SQL), so the reconnect
        is cheap in total.
        """
        try:
            async with self.conn.pipeline():
                yield
        except BaseException:
            self.tainted = True
            raise

    async def _begin_if_needed(self) -> None:
        if not self._begun:
            await self.conn.execute("BEGIN")
            self._begun = True
