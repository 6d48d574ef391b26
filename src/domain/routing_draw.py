"""Sticky draws: the same transaction id always lands the same way.

A draw is a hash of the transaction id (and a salt naming what is drawn),
read as a number in [0, 1). The live path and the replay call the same
functions, so a retry, another replica or a replay all agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from domain.routing_config import TierEntry

_SCALE = float(2**64)


def uniform(transaction_id: str, salt: str) -> float:
    """A number in [0, 1) fixed by the transaction id and the salt."""
    digest = hashlib.blake2b(f"{salt}|{transaction_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def pick(entries: Sequence[TierEntry], u: float) -> int:
    """The index ``u`` falls on when the entries share [0, 1) by cumulative weight."""
    total = sum(e.weight for e in entries)
    target = u * total
    running = 0
    for i, entry in enumerate(entries):
        running += entry.weight
        if target < running:
            return i
    return len(entries) - 1


def weighted_order(entries: Sequence[TierEntry], transaction_id: str, salt: str) -> list[str]:
    """A tier's gateways by weighted draws without replacement: the first is the split."""
    left = list(entries)
    order: list[str] = []
    round_no = 0
    while left:
        chosen = left.pop(pick(left, uniform(transaction_id, f"{salt}:{round_no}")))
        order.append(chosen.gateway_id)
        round_no += 1
    return order
