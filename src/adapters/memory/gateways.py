"""A scripted gateway: answers from a queue and records what it was sent.

Status inquiries answer from ``statuses`` (unknown references: not found), or
raise GatewayUnreachable while ``unreachable`` is set.
"""

from __future__ import annotations

from collections import deque

from application.ports import (
    GatewayResult,
    GatewayStatus,
    GatewayUnreachable,
    PaymentInstruction,
    PaymentProvider,
)
from domain.transaction import AttemptOutcome

ACCEPTED = GatewayResult(
    outcome=AttemptOutcome.ACCEPTED, reference_id="ref-1", redirect_url="https://pay.example/r/1"
)


class ScriptedProvider:
    def __init__(self, gateway_id: str, *results: GatewayResult) -> None:
        self.gateway_id = gateway_id
        self._results = deque(results)
        self.received: list[PaymentInstruction] = []
        self.statuses: dict[str, GatewayStatus] = {}  # by our idempotency reference
        self.unreachable = False
        self.inquired: list[str] = []  # every reference asked about, in order
        self.inquired_ids: list[str | None] = []  # the gateway's id passed with each

    def will(self, *results: GatewayResult) -> None:
        self._results.extend(results)

    async def submit(self, instruction: PaymentInstruction) -> GatewayResult:
        self.received.append(instruction)
        if self._results:
            return self._results.popleft()
        return GatewayResult(
            outcome=AttemptOutcome.ACCEPTED,
            reference_id=f"{self.gateway_id}-{instruction.reference}",
            redirect_url=f"https://{self.gateway_id}.example/pay/{instruction.reference}",
        )

    async def inquire(self, reference: str, gateway_reference: str | None = None) -> GatewayStatus:
        """The scripted status for ``reference``; not found unless one was set."""
        self.inquired.append(reference)
        self.inquired_ids.append(gateway_reference)
        if self.unreachable:
            raise GatewayUnreachable(f"{self.gateway_id} is unreachable (scripted)")
        return self.statuses.get(reference, GatewayStatus(found=False))


class MemoryProviderRegistry:
    def __init__(self, *providers: PaymentProvider) -> None:
        self._providers = {p.gateway_id: p for p in providers}

    def get(self, gateway_id: str) -> PaymentProvider | None:
        return self._providers.get(gateway_id)
