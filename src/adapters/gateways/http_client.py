"""One pooled keep-alive HTTP client shared by every gateway adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


async def http_client_resource(
    connect_timeout_s: float, read_timeout_s: float, max_connections: int = 200
) -> AsyncIterator[httpx.AsyncClient]:
    timeout = httpx.Timeout(
        connect=connect_timeout_s,
        read=read_timeout_s,
        write=read_timeout_s,
        # Waiting for a free pooled connection: nothing was sent yet, so a
        # PoolTimeout is safely "not sent" (see classify.py).
        pool=connect_timeout_s,
    )
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=50)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as client:
        yield client
