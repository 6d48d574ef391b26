"""Background health checks: probe each gateway's health endpoint on a timer.

What a probe asks is the wire family's choice (``WireFamily.health_probe``):
our sandbox PSPs and the json/soap families answer ``GET <url>/health``;
Stripe has no such route, so its family reads the balance with the secret key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from adapters.gateways.monitor import GatewayMonitors

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """One GET whose 2xx answer means the gateway is healthy."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


class HealthChecker:
    def __init__(
        self,
        monitors: GatewayMonitors,
        probes: dict[str, HealthProbe],
        client: httpx.AsyncClient,
        interval_s: float = 10.0,
        timeout_s: float = 2.0,
    ) -> None:
        self._monitors = monitors
        self._probes = probes
        self._client = client
        self._interval_s = interval_s
        self._timeout_s = timeout_s

    async def probe(self, gateway_id: str) -> bool:
        try:
            probe = self._probes[gateway_id]
            response = await self._client.get(
                probe.url, headers=dict(probe.headers), timeout=self._timeout_s
            )
            healthy = response.is_success
        except httpx.HTTPError:
            healthy = False
        monitor = self._monitors.get(gateway_id)
        if (monitor.health == "healthy") != healthy:
            log.info("gateway %s is now %s", gateway_id, "healthy" if healthy else "unhealthy")
        monitor.set_health("healthy" if healthy else "unhealthy")
        return healthy

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(gid) for gid in self._probes))

    async def run_forever(self, initial_delay_s: float = 0.5) -> None:
        # A short pause first: gateways served by this very process (the
        # embedded sandbox) only answer once the server has bound its port.
        await asyncio.sleep(min(initial_delay_s, self._interval_s))
        while True:
            try:
                await self.probe_all()
            except Exception:  # a bug here must not stop future checks
                log.exception("health check round failed")
            await asyncio.sleep(self._interval_s)
