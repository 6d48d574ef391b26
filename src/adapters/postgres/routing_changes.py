"""Tell this process when users, countries, gateways or routes change anywhere.

A trigger (migration 0005) NOTIFYs ``payments_routing`` at the commit of
every such change; each serving process LISTENs on a connection of its own
and drops its route cache (application/route_cache.py) at once. While the
connection is down the process cannot hear, so it drops the cache then too
and caches nothing it could not be told about... until it listens again; the
cache's TTL is the last line of defence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

CHANNEL = "payments_routing"


class RoutingChangeListener:
    def __init__(
        self, database_url: str, on_change: Callable[[], None], *, retry_delay_s: float = 1.0
    ) -> None:
        self._url = database_url
        self._on_change = on_change
        self._retry_s = retry_delay_s
        self.listening = False

    async def run_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening = True
                    self._on_change()  # anything may have changed while we were deaf
                    async for _ in conn.notifies():
                        self._on_change()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: forget, retry
                log.warning("routing change listener stopped (%s); retrying", type(exc).__name__)
            finally:
                self.listening = False
                self._on_change()
            await asyncio.sleep(self._retry_s)
