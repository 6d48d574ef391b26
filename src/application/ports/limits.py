"""Port for the money rules' data: velocity limits, reversal windows, admission reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.closed_loop import FundingSource
from domain.limits import Counted, VelocityLimit
from domain.transaction import TransactionType


@dataclass(frozen=True, slots=True)
class CountryLimits:
    """A country's caps per operation, in its currency (an operation absent: unlimited)."""

    currency: str
    per_operation: dict[TransactionType, VelocityLimit] = field(default_factory=dict)
    # The country's closed-loop switch (domain/closed_loop.py), read with its limits.
    closed_loop: bool = False

    def of(self, operation: TransactionType) -> VelocityLimit:
        return self.per_operation.get(operation, VelocityLimit())


@dataclass(frozen=True, slots=True)
class AdmissionView:
    """What the creating transaction read under its locks."""

    recent: list[Counted]  # the user's counted payments of the window
    # Withdrawals, while a deposit is inside its reversal window (else None:
    # the hold's own no-overdraft rule is all there is to check).
    available_minor: int | None = None
    in_window_minor: int = 0  # deposits still inside their reversal window


class LimitRepository(Protocol):
    """Limits and reversal windows as stored, and the reads that admit a payment."""

    async def country_limits(self, country: str) -> CountryLimits | None:
        """The country's limits and closed-loop switch; None when it is not configured."""

    async def replace_country_limits(self, country: str, limits: CountryLimits) -> None:
        """Replace every limit of the country (within the unit of work)."""

    async def admission(
        self,
        *,
        user_id: int,
        currency: str,
        operation: TransactionType,
        counted_since: datetime | None,
        funds_at: datetime | None,
    ) -> AdmissionView:
        """Lock the user's (currency, operation) for this unit and read, in one round trip:
        the payments counted since ``counted_since`` (None: none needed) and, when
        ``funds_at`` is given, the available balance (its row locked, as the hold
        will) and what of it is still inside a reversal window at that time."""

    async def in_window(self, user_id: int, at: datetime) -> dict[str, int]:
        """Per currency, the user's deposits still inside their reversal window at ``at``."""

    async def set_reversal_window(self, gateway_id: str, hours: int) -> bool:
        """Store a gateway's reversal window; False when it does not exist."""

    async def funding_sources(self, user_id: int, currency: str) -> list[FundingSource]:
        """Every gateway that funded the user in ``currency``, with what it funded and took back."""
