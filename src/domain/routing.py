"""Routing: which gateways may serve a payment, best first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.errors import InvalidInput
from domain.transaction import TransactionType


@dataclass(frozen=True, slots=True)
class GatewayRoute:
    """One gateway's place in one country's priority list (lower number first)."""

    gateway_id: str
    priority: int
    operations: frozenset[TransactionType]
    currencies: frozenset[str]
    enabled: bool = True  # False when an operator has switched the gateway off

    def serves(self, operation: TransactionType, currency: str) -> bool:
        return self.enabled and operation in self.operations and currency in self.currencies


def rank_gateways(
    routes: list[GatewayRoute], operation: TransactionType, currency: str
) -> list[GatewayRoute]:
    """The routes able to carry this payment, ordered by priority.

    Ties are broken by gateway id so the order is stable across processes.
    """
    return by_priority([r for r in routes if r.serves(operation, currency)])


def by_priority(routes: list[GatewayRoute]) -> list[GatewayRoute]:
    """Lower priority number first; ties by gateway id, so every process agrees."""
    return sorted(routes, key=lambda r: (r.priority, r.gateway_id))


def ready_first(
    ranked: list[GatewayRoute], is_available: Callable[[str], bool]
) -> list[GatewayRoute]:
    """Ranked routes as a payment tries them: available gateways first, in rank order.

    Gateways whose breaker is open or that fail health checks go to the back
    rather than out: if nothing healthier is left, trying them beats refusing.
    """
    ready: list[GatewayRoute] = []
    degraded: list[GatewayRoute] = []
    for route in ranked:
        (ready if is_available(route.gateway_id) else degraded).append(route)
    return ready + degraded


@dataclass(frozen=True, slots=True)
class Priority:
    gateway_id: str
    priority: int


def validate_priorities(entries: list[Priority], known_gateways: set[str]) -> list[Priority]:
    """A country's new priority list: known gateways, each once, distinct positive ranks."""
    ids = [e.gateway_id for e in entries]
    ranks = [e.priority for e in entries]
    if len(set(ids)) != len(ids):
        raise InvalidInput("a gateway may appear only once per country")
    if len(set(ranks)) != len(ranks):
        raise InvalidInput("priorities must be distinct")
    if any(r < 1 for r in ranks):
        raise InvalidInput("priorities must be positive")
    unknown = sorted(set(ids) - known_gateways)
    if unknown:
        raise InvalidInput(f"unknown gateway(s): {', '.join(unknown)}")
    return sorted(entries, key=lambda e: e.priority)
