"""Closed-loop withdrawals: money goes back out the way it came in.

When a country's switch is on, a withdrawal is first split over the gateways
that funded the user's deposits in its currency, newest funding first, each
up to what it funded (completed deposits net of refunds) less what earlier
withdrawals already returned through it (their legs not failed). What the
sources cannot take follows the country's normal route (``gateway_id`` None).
A gateway that cannot pay out is no source (``can_pay_out``). The legs always
sum to the amount asked, never more.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class FundingSource:
    """A gateway that funded the user in one currency."""

    gateway_id: str
    funded_minor: int  # completed deposits, net of refunds not failed
    returned_minor: int  # withdrawal legs through it, not failed
    last_funded_at: datetime  # the newest of those deposits

    @property
    def capacity_minor(self) -> int:
        return max(0, self.funded_minor - self.returned_minor)


@dataclass(frozen=True, slots=True)
class PlannedLeg:
    gateway_id: str | None  # None: the country's normal route
    amount_minor: int


def plan_legs(
    amount_minor: int,
    sources: Sequence[FundingSource],
    *,
    can_pay_out: Callable[[str], bool] = lambda _gateway: True,
    exclude: Collection[str] = (),
) -> list[PlannedLeg]:
    """The legs of a withdrawal of ``amount_minor``: sources newest first, then the rest."""
    if amount_minor <= 0:
        raise InvalidInput("a withdrawal moves a positive amount")
    legs: list[PlannedLeg] = []
    left = amount_minor
    for s in sorted(sources, key=lambda s: (s.last_funded_at, s.gateway_id), reverse=True):
        if left == 0:
            break
        if s.gateway_id in exclude or not can_pay_out(s.gateway_id) or s.capacity_minor == 0:
            continue
        part = min(left, s.capacity_minor)
        legs.append(PlannedLeg(s.gateway_id, part))
        left -= part
    if left:
        legs.append(PlannedLeg(None, left))
    return legs
