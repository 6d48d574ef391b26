"""A scripted gateway: answers from a queue and records what it was sent."""

from __future__ import annotations

from collections import deque

from application.ports import GatewayResult, PaymentInstruction, PaymentProvider
from domain.transaction import AttemptOutcome

ACCEPTED = GatewayResult(
    outcome=AttemptOutcome.ACCEPTED, reference_id="ref-1", redirect_url="https://pay.example/r/1"
)


class ScriptedProvider:
    def __init__(self, gateway_id: str, *results: GatewayResult) -> None:
        self.gateway_id = gateway_id
        self._results = deque(results)
        self.received: list[PaymentInstruction] = []

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


class MemoryProviderRegistry:
    def __init__(self, *providers: PaymentProvider) -> None:
        self._providers = {p.gateway_id: p for p in providers}

    def get(self, gateway_id: str) -> PaymentProvider | None:
        return self._providers.get(gateway_id)
