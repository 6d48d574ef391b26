"""Withdrawable money: what of the available balance may leave the platform now.

A gateway may have a reversal window (hours; default 0): the payer can still
claw a deposit back (a chargeback) for that long after it completed. Such a
deposit is available (it can be seen, and spent inside the platform) but not
withdrawable until its window passes, net of what was refunded of it already.
A withdrawal is refused above the withdrawable amount.
"""

from __future__ import annotations

from domain.errors import InsufficientFunds


def withdrawable_minor(available_minor: int, in_window_minor: int) -> int:
    """The available balance less the deposits still inside their window (never below 0)."""
    return max(0, available_minor - max(0, in_window_minor))


def refuse_above_withdrawable(
    amount_minor: int, available_minor: int, in_window_minor: int
) -> None:
    """Raise InsufficientFunds when a withdrawal asks for more than may leave now."""
    if amount_minor > withdrawable_minor(available_minor, in_window_minor):
        detail = (
            "part of the balance comes from deposits still inside their reversal window"
            if amount_minor <= available_minor
            else "insufficient balance for this withdrawal"
        )
        raise InsufficientFunds(detail)
