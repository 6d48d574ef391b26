"""Velocity limits: how much and how often a user may pay in or out, per country.

A country may cap each operation (deposit, withdrawal) three ways, in its own
currency: the most one payment may move (``max_minor``), and per user and
rolling day (the last 24 hours, ``WINDOW``) the total amount
(``daily_amount_minor``) and the number of payments (``daily_count``). A
payment counts from its creation unless it failed (a failed payment moved no
money, so it must not eat the limit); one still in flight does, since it may
yet complete. A refused payment is told which limit it hit and when that
limit will have room for it again (``resets_at``).

The check runs in the database transaction that creates the payment, under
a per (user, currency, operation) lock, so concurrent payments are counted
one after the other (adapters/postgres/limits.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import InvalidInput, LimitExceeded

WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class VelocityLimit:
    """One operation's caps in one country; None: unlimited."""

    max_minor: int | None = None
    daily_amount_minor: int | None = None
    daily_count: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_minor", "daily_amount_minor", "daily_count"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value <= 0):
                raise InvalidInput(f"{name} must be positive (or absent for no limit)")

    @property
    def unlimited(self) -> bool:
        return (
            self.max_minor is None and self.daily_amount_minor is None and self.daily_count is None
        )

    @property
    def needs_history(self) -> bool:
        """Whether checking needs the user's last day (a per-day cap is set)."""
        return self.daily_amount_minor is not None or self.daily_count is not None


@dataclass(frozen=True, slots=True)
class Counted:
    """A payment of the last day that counts: when it was created, how much."""

    created_at: datetime
    amount_minor: int


def check_velocity(
    limit: VelocityLimit, amount_minor: int, recent: Sequence[Counted], now: datetime
) -> None:
    """Raise LimitExceeded when a new payment of ``amount_minor`` breaks ``limit``.

    ``recent`` are the user's counted payments in this currency and operation;
    any older than ``WINDOW`` are ignored.
    """
    if limit.max_minor is not None and amount_minor > limit.max_minor:
        raise LimitExceeded(
            "the amount is above the most one payment may move",
            limit="max_amount",
            window="transaction",
            resets_at=None,
        )
    counted = sorted((c for c in recent if c.created_at > now - WINDOW), key=lambda c: c.created_at)
    if limit.daily_count is not None and len(counted) + 1 > limit.daily_count:
        # The oldest must leave until one more fits.
        leaving = counted[len(counted) - limit.daily_count]
        raise LimitExceeded(
            f"at most {limit.daily_count} payments a day",
            limit="daily_count",
            window="24h",
            resets_at=leaving.created_at + WINDOW,
        )
    if limit.daily_amount_minor is not None:
        excess = sum(c.amount_minor for c in counted) + amount_minor - limit.daily_amount_minor
        if excess > 0:
            raise LimitExceeded(
                "the amount would take the day's total above the limit",
                limit="daily_amount",
                window="24h",
                resets_at=_when_enough_leaves(counted, excess),
            )


def _when_enough_leaves(counted: Sequence[Counted], excess: int) -> datetime | None:
    """When the oldest payments leaving the window free ``excess`` (None: never,
    the payment alone is above the daily amount)."""
    freed = 0
    for c in counted:
        freed += c.amount_minor
        if freed >= excess:
            return c.created_at + WINDOW
    return None
