"""A country's routing document: strategy, tiers of weighted gateways, rules.

Tiers are tried one after the other (fallback always runs tier by tier); the
strategy orders the gateways inside a tier; the first rule whose condition
matches a payment replaces the default tiers for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from domain.errors import InvalidInput
from domain.money import Money
from domain.routing import Priority
from domain.transaction import TransactionType


class Strategy(StrEnum):
    PRIORITY = "priority"  # inside a tier, the listed order
    WEIGHTED = "weighted"  # inside a tier, a sticky draw by transaction id
    SUCCESS_RATE = "success_rate"  # inside a tier, recent outcomes decide


@dataclass(frozen=True, slots=True)
class TierEntry:
    gateway_id: str
    weight: int = 100


Tier = tuple[TierEntry, ...]


@dataclass(frozen=True, slots=True)
class RuleCondition:
    """Which payments a rule catches; None matches anything; amounts inclusive."""

    type: TransactionType | None = None
    currency: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    def matches(self, operation: TransactionType, money: Money) -> bool:
        if self.type is not None and self.type is not operation:
            return False
        if self.currency is not None and self.currency != money.currency.code:
            return False
        if self.min_amount is not None and money.amount < self.min_amount:
            return False
        return self.max_amount is None or money.amount <= self.max_amount

    def covers(self, other: RuleCondition) -> bool:
        """Every payment ``other`` matches, this matches too (``other`` is shadowed)."""
        if self.type is not None and self.type != other.type:
            return False
        if self.currency is not None and self.currency != other.currency:
            return False
        if self.min_amount is not None and (
            other.min_amount is None or other.min_amount < self.min_amount
        ):
            return False
        return self.max_amount is None or (
            other.max_amount is not None and other.max_amount <= self.max_amount
        )


@dataclass(frozen=True, slots=True)
class Rule:
    when: RuleCondition
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    strategy: Strategy
    tiers: tuple[Tier, ...]
    rules: tuple[Rule, ...] = ()
    closed_loop: bool = False  # read by withdrawals (limits and closed loop)

    def tiers_for(self, operation: TransactionType, money: Money) -> tuple[Tier, ...]:
        """The first matching rule's tiers, else the default ones."""
        for rule in self.rules:
            if rule.when.matches(operation, money):
                return rule.tiers
        return self.tiers

    def gateway_ids(self) -> list[str]:
        """Every gateway the document names, in order of first appearance."""
        seen: dict[str, None] = {}
        for tiers in (self.tiers, *(r.tiers for r in self.rules)):
            for tier in tiers:
                for entry in tier:
                    seen.setdefault(entry.gateway_id, None)
        return list(seen)

    def as_priorities(self) -> list[Priority]:
        """The document flattened into today's list (gateway_countries)."""
        return [Priority(gid, n) for n, gid in enumerate(self.gateway_ids(), start=1)]


def from_priorities(entries: list[Priority], closed_loop: bool = False) -> RoutingConfig:
    """Today's priority list as a document: one gateway per tier."""
    ordered = sorted(entries, key=lambda e: (e.priority, e.gateway_id))
    return RoutingConfig(
        Strategy.PRIORITY,
        tuple((TierEntry(e.gateway_id),) for e in ordered),
        closed_loop=closed_loop,
    )


@dataclass(frozen=True, slots=True)
class _Check:
    known: set[str]
    problems: list[str] = field(default_factory=list)

    def tiers(self, tiers: tuple[Tier, ...], where: str) -> None:
        if not tiers or any(not t for t in tiers):
            self.problems.append(f"{where}: every tier needs at least one gateway")
        ids = [e.gateway_id for t in tiers for e in t]
        if len(set(ids)) != len(ids):
            self.problems.append(f"{where}: a gateway may appear only once")
        unknown = sorted(set(ids) - self.known)
        if unknown:
            self.problems.append(f"{where}: unknown gateway(s) {', '.join(unknown)}")
        if any(e.weight <= 0 for t in tiers for e in t):
            self.problems.append(f"{where}: weights must be positive")


def validate_config(config: RoutingConfig, known_gateways: set[str]) -> RoutingConfig:
    """Refuse a document routing could not follow, naming every problem at once."""
    check = _Check(known_gateways)
    check.tiers(config.tiers, "tiers")
    for n, rule in enumerate(config.rules, start=1):
        where = f"rules[{n}]"
        check.tiers(rule.tiers, where)
        w = rule.when
        if w.type is TransactionType.REFUND:
            check.problems.append(f"{where}: refunds follow their deposit, never a rule")
        if w.min_amount is not None and w.max_amount is not None and w.min_amount > w.max_amount:
            check.problems.append(f"{where} can never match: min_amount above max_amount")
        if any(amount is not None and amount < 0 for amount in (w.min_amount, w.max_amount)):
            check.problems.append(f"{where}: amounts may not be negative")
        for earlier, prior in enumerate(config.rules[: n - 1], start=1):
            if prior.when.covers(w):
                check.problems.append(f"{where} can never match: rules[{earlier}] catches it first")
                break
    if check.problems:
        raise InvalidInput("; ".join(check.problems))
    return config
