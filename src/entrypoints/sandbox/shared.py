"""Sandbox state in one SQLite file, shared by the processes of ``payments sandbox``.

With ``--workers N`` each process answers a share of the requests, yet from
the outside the sandbox must look like one PSP: a behaviour set through one
worker applies to the next request whatever worker takes it, every payment is
in the ledger and answers a status inquiry from any worker, and PSP references
are unique. SQLite (standard library, no extra service) gives that: in WAL
mode readers never wait for the writer, every statement is its own short
transaction, and the UNIQUE key on (gateway, reference) makes "record once
per reference" atomic across processes, as one event loop made it in memory.

The file is scratch state in a directory the parent removes at exit, so
durability is traded for speed (``synchronous=OFF``). References are numbered
by an AUTOINCREMENT key seeded from the clock when the file is created: a
restarted sandbox does not hand out the references of the one before it
(Adyen-style callbacks are deduplicated by reference).

Merchant credentials are not in the file: every worker reads them from the
same settings (the environment, or the embedded default's secrets file that
the parent creates before any worker starts), so each enforces them alike.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from entrypoints.sandbox.psp import Behaviour, Format, NewPaymentHook
from entrypoints.sandbox.shared_gateway import Connection, SharedGateway

# References per second of clock the seed leaves room for before a restart could reuse one.
_NUMBERS_PER_SECOND = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gateways (
    id TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    latency_ms INTEGER NOT NULL,
    final_status TEXT NOT NULL,
    callback_delay_ms INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    lookups INTEGER NOT NULL DEFAULT 0,
    callbacks_delivered INTEGER NOT NULL DEFAULT 0,
    callbacks_failed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS payments (
    number INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway_id TEXT NOT NULL,
    reference TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    type TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (gateway_id, reference)
);
"""


def create_state(path: Path, gateway_ids: list[str]) -> None:
    """Create the state file with default behaviours; run once, before any worker starts."""
    default = Behaviour()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")  # persistent: every later connection uses it
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT OR IGNORE INTO gateways (id, mode, latency_ms, final_status, callback_delay_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (
                    gid,
                    default.mode,
                    default.latency_ms,
                    default.final_status,
                    default.callback_delay_ms,
                )
                for gid in gateway_ids
            ],
        )
        db.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'payments', ?"
            " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'payments')",
            (int(time.time()) * _NUMBERS_PER_SECOND,),
        )


class SharedSandbox:
    """The gateways of one worker, their state in the shared file (satisfies ``Gateways``)."""

    def __init__(
        self,
        path: Path,
        gateways: Mapping[str, Format],
        on_new_payment: NewPaymentHook | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        if not path.exists():  # sqlite3 would silently create an empty one
            raise FileNotFoundError(f"no sandbox state at {path}")
        self._db = Connection(path)
        keys = keys or {}
        self.gateways = {
            gid: SharedGateway(self._db, gid, fmt, on_new_payment, keys.get(gid))
            for gid, fmt in gateways.items()
        }

    def get(self, gateway_id: str) -> SharedGateway | None:
        return self.gateways.get(gateway_id)

    def close(self) -> None:
        self._db.close()
