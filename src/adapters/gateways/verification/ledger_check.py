"""Read every sandbox gateway's own ledger of the payments it received.

``GET {gateway_url}/ledger`` (admin key) lists one entry per idempotency
reference: what a real PSP's dashboard would show. The comparison with our
records is ``application.verification.compare_gateways``; this adapter
only reads, and reports a gateway whose ledger cannot be read (down, no
ledger endpoint, wrong key, malformed answer) instead of raising, so the
other gateways are still checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from application.verification.records import GatewayLedger, GatewayPayment

LEDGER_TIMEOUT_S = 10.0
_FIELDS = ("reference", "transaction_id", "type", "amount", "currency", "status")


class SandboxLedgers:
    """GatewayLedgers over the sandbox's admin ``/ledger`` route, one per gateway."""

    def __init__(
        self,
        gateways: Sequence[tuple[str, str]],  # (gateway id, base URL)
        admin_key: str,
        *,
        client: httpx.AsyncClient | None = None,
        timeout_s: float = LEDGER_TIMEOUT_S,
    ) -> None:
        self._gateways = list(gateways)
        self._headers = {"Authorization": f"Bearer {admin_key}", "Accept": "application/json"}
        self._client = client
        self._timeout_s = timeout_s

    async def ledgers(self) -> list[GatewayLedger]:
        if self._client is not None:
            return await self._read_all(self._client)
        async with httpx.AsyncClient(timeout=self._timeout_s, trust_env=False) as client:
            return await self._read_all(client)

    async def _read_all(self, client: httpx.AsyncClient) -> list[GatewayLedger]:
        return list(
            await asyncio.gather(*(self._read(client, gid, url) for gid, url in self._gateways))
        )

    async def _read(self, client: httpx.AsyncClient, gateway_id: str, url: str) -> GatewayLedger:
        try:
            response = await client.get(f"{url.rstrip('/')}/ledger", headers=self._headers)
        except httpx.HTTPError as exc:
            return GatewayLedger(gateway_id, error=f"{type(exc).__name__} from {url}")
        if response.status_code != 200:
            return GatewayLedger(gateway_id, error=f"HTTP {response.status_code} from {url}")
        try:
            entries = response.json()
            if not isinstance(entries, list):
                raise TypeError("not a list")
            payments = tuple(_payment(gateway_id, entry) for entry in entries)
        except (ValueError, TypeError, KeyError) as exc:
            return GatewayLedger(gateway_id, error=f"malformed ledger from {url}: {exc}")
        return GatewayLedger(gateway_id, payments)


def _payment(gateway_id: str, entry: Any) -> GatewayPayment:
    if not isinstance(entry, dict):
        raise TypeError("entry is not an object")
    missing = [name for name in _FIELDS if not isinstance(entry.get(name), str)]
    if missing:
        raise KeyError(f"entry without {', '.join(missing)}")
    return GatewayPayment(
        gateway_id=gateway_id,
        reference=entry["reference"],
        transaction_id=entry["transaction_id"],
        type=entry["type"],
        amount=entry["amount"],
        currency=entry["currency"],
        status=entry["status"],
    )
