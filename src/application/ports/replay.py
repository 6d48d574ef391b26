"""Port for the recorded traffic a routing replay reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.routing_replay import GatewaySample
from domain.transaction import TransactionType


@dataclass(frozen=True, slots=True)
class RecordedPayment:
    """One recorded deposit or withdrawal and what its first attempt met."""

    transaction_id: str
    country: str
    type: TransactionType
    amount_minor: int
    currency: str
    first_gateway: str
    succeeded: bool  # some gateway accepted it
    latency_ms: int | None  # its first attempt's


class RecordedTraffic(Protocol):
    """Transactions and attempts recorded in a period."""

    async def payments(self, since: datetime, until: datetime) -> list[RecordedPayment]:
        """Every deposit and withdrawal created in [since, until) with at least one attempt."""

    async def samples(
        self, since: datetime, until: datetime
    ) -> dict[tuple[str, str], GatewaySample]:
        """Per (country, gateway): finished attempts, acceptances and latency."""
