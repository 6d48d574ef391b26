"""One contract per repository port, run against the fake and the real adapter.

Each test in this folder takes ``backend``: once the in-memory adapters
(adapters/memory) and once PostgreSQL (a fresh migrated database with the
demo data). Both start from the same reference data, so a test is written
once and holds for both; when they disagree, PostgreSQL is the truth and the
fake is what gets fixed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.messages import CALLBACK_EVENT, callback_from_envelope
from adapters.postgres.idempotency import PostgresIdempotencyStore
from adapters.postgres.migrator import load_demo_data
from adapters.postgres.pool import open_pool
from adapters.postgres.unit_of_work import unit_of_work_factory
from tests.support.keys import TEST_KEYRING
from tests.support.port_contracts import Backend, memory_backend


@pytest.fixture(params=["memory", "postgres"])
def backend_database_url(request: pytest.FixtureRequest) -> str | None:
    """None for the fake; a fresh database for PostgreSQL (requested only then).

    Synchronous, so the session's template database is migrated before any
    event loop runs.
    """
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue("database_url")
    return url


@pytest.fixture
async def backend(backend_database_url: str | None) -> AsyncIterator[Backend]:
    if backend_database_url is None:
        yield memory_backend()
        return
    url = backend_database_url
    await load_demo_data(url)
    pool = await open_pool(url, min_size=1, max_size=4)

    async def outbox() -> list[tuple[str, str]]:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT event_type, key, payload FROM outbox ORDER BY id")
            rows = await cur.fetchall()
        events = [(t, k) for t, k, _ in rows if t != CALLBACK_EVENT]
        callbacks = [
            ("callback", callback_from_envelope(p).event_id)
            for t, _, p in rows
            if t == CALLBACK_EVENT
        ]
        return events + callbacks

    try:
        yield Backend(
            "postgres",
            unit_of_work_factory(pool, TEST_KEYRING),
            PostgresIdempotencyStore(pool),
            outbox,
        )
    finally:
        await pool.close()
