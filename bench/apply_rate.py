"""How fast verified callbacks are applied, without receiving them first.

The harness's callback burst measures receiving and applying together, and
receiving (a signed POST each) is the slower half. This measures the other
half alone: N deposits in ``processing``, their verified callbacks in the
inbox, then ``ApplyCallbacks`` in batches, as the relay and the Kafka
consumer run it, on a scratch database.

    uv run python -m bench.apply_rate --database-url postgresql://…/postgres [-n 5000] [--batch 500]

(the URL must allow CREATE DATABASE; the scratch database is dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

import psycopg

from adapters.crypto.keyring import Keyring
from adapters.postgres.migrator import load_demo_data, migrate
from adapters.postgres.pool import open_pool
from adapters.postgres.unit_of_work import unit_of_work_factory
from adapters.system import SystemClock
from application.apply_callback import ApplyCallbacks
from application.ports import GatewayCallback, UnitOfWorkFactory
from bench.database import conninfo_with_db
from domain.money import Money
from domain.transaction import AttemptOutcome, Transaction, TransactionType

CURRENCIES = ("USD", "GBP", "EUR", "JPY")  # the demo users 1-4


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _prepare(url: str, n: int) -> tuple[ApplyCallbacks, list[GatewayCallback], object]:
    await migrate(url)
    await load_demo_data(url)
    pool = await open_pool(url, min_size=2, max_size=4)
    uow = unit_of_work_factory(pool, Keyring.parse(Keyring.new_key_spec("bench")))
    now = datetime.now(UTC)
    callbacks: list[GatewayCallback] = []
    for start in range(0, n, 500):
        chunk = range(start, min(n, start + 500))
        async with uow() as unit:
            for i in chunk:
                tx = Transaction.create(
                    transaction_id=str(uuid.uuid4()),
                    type=TransactionType.DEPOSIT,
                    user_id=1 + i % 4,
                    money=Money.parse("10.00", CURRENCIES[i % 4]),
                    now=now,
                )
                tx.begin_attempt("paypal", now)
                tx.settle_attempt(1, AttemptOutcome.ACCEPTED, latency_ms=5)
                tx.mark_processing(
                    gateway_id="paypal",
                    reference_id=f"PP-{i}",
                    redirect_url=None,
                    message="Accepted",
                    now=now,
                )
                await unit.transactions.add(tx)
                callbacks.append(
                    GatewayCallback("paypal", f"evt_{i}", tx.id, "completed", f"PP-{i}", "paid")
                )
            await unit.commit()
        async with uow() as unit:
            for callback in callbacks[start : start + len(chunk)]:
                await unit.inbox.add(callback, b"{}")
            await unit.commit()
    # mypy holds the UnitOfWork protocol's plain attributes invariant, so the
    # Postgres unit of work (whose repositories are subtypes) needs the cast;
    # the container hands it over untyped, through dependency-injector.
    return ApplyCallbacks(cast(UnitOfWorkFactory, uow), SystemClock()), callbacks, pool


async def measure(url: str, n: int, batch: int) -> dict[str, float]:
    apply, callbacks, pool = await _prepare(url, n)
    try:
        started, cpu = time.perf_counter(), _cpu()
        for i in range(0, n, batch):
            results = await apply.execute(callbacks[i : i + batch])
            if set(results) != {"applied"}:
                raise RuntimeError(f"not all applied: {sorted(set(results))}")
        wall, used = time.perf_counter() - started, _cpu() - cpu
    finally:
        await pool.close()  # type: ignore[attr-defined]
    return {"callbacks": n, "batch": batch, "per_s": n / wall, "cpu_ms_each": used / n * 1000}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.apply_rate", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("PAYMENTS_BENCH_DATABASE_URL"))
    parser.add_argument("-n", type=int, default=5000, help="callbacks (default 5000)")
    parser.add_argument("--batch", type=int, default=500, help="callbacks per batch (500)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or PAYMENTS_BENCH_DATABASE_URL) is required")
    name = f"bench_apply_{os.getpid()}"
    with psycopg.connect(args.database_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        result = asyncio.run(measure(conninfo_with_db(args.database_url, name), args.n, args.batch))
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(
        f"applied {result['callbacks']:.0f} callbacks in batches of {result['batch']:.0f}: "
        f"{result['per_s']:,.0f}/s, {result['cpu_ms_each']:.3f} ms of client CPU each"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
