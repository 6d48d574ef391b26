"""The routing document as plain data (the contract's JSON shape), both ways.

One home for the shape: the HTTP edge (after msgspec checked the types), the
PostgreSQL adapter (jsonb columns) and the replay CLI's draft file use it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidInput
from domain.routing_config import RoutingConfig, Rule, RuleCondition, Strategy, Tier, TierEntry
from domain.transaction import TransactionType


def tiers_from(data: Any) -> tuple[Tier, ...]:
    if not isinstance(data, list):
        raise InvalidInput("tiers must be a list of lists")
    tiers: list[Tier] = []
    for tier in data:
        if not isinstance(tier, list):
            raise InvalidInput("each tier must be a list of gateways")
        entries = []
        for e in tier:
            if not isinstance(e, dict) or not isinstance(e.get("gateway_id"), str):
                raise InvalidInput("each tier entry needs a gateway_id")
            weight = e.get("weight", 100)
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise InvalidInput("weights must be integers")
            entries.append(TierEntry(e["gateway_id"], weight))
        tiers.append(tuple(entries))
    return tuple(tiers)


def _amount(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidInput(f"{name} must be a decimal amount") from exc


def condition_from(data: Any) -> RuleCondition:
    if not isinstance(data, dict):
        raise InvalidInput("a rule's when must be an object")
    unknown = set(data) - {"type", "currency", "min_amount", "max_amount"}
    if unknown:
        raise InvalidInput(f"unknown condition field(s): {', '.join(sorted(unknown))}")
    try:
        type_ = TransactionType(data["type"]) if data.get("type") is not None else None
    except ValueError as exc:
        raise InvalidInput("type must be deposit or withdrawal") from exc
    currency = data.get("currency")
    if currency is not None and (not isinstance(currency, str) or len(currency) != 3):
        raise InvalidInput("currency must be an ISO 4217 code")
    return RuleCondition(
        type_,
        currency,
        _amount(data.get("min_amount"), "min_amount"),
        _amount(data.get("max_amount"), "max_amount"),
    )


def rule_from(data: Any) -> Rule:
    if not isinstance(data, dict):
        raise InvalidInput("each rule must be an object with when and tiers")
    return Rule(condition_from(data.get("when")), tiers_from(data.get("tiers")))


def config_from(data: Any) -> RoutingConfig:
    """A document from its JSON form; shape errors are InvalidInput (rules: validate_config)."""
    if not isinstance(data, dict):
        raise InvalidInput("a routing document must be an object")
    try:
        strategy = Strategy(str(data.get("strategy")))
    except ValueError as exc:
        raise InvalidInput("strategy must be priority, weighted or success_rate") from exc
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise InvalidInput("rules must be a list")
    closed_loop = data.get("closed_loop", False)
    if not isinstance(closed_loop, bool):
        raise InvalidInput("closed_loop must be true or false")
    return RoutingConfig(
        strategy,
        tiers_from(data.get("tiers")),
        tuple(rule_from(r) for r in rules),
        closed_loop,
    )


def tiers_to(tiers: tuple[Tier, ...]) -> list[list[dict[str, Any]]]:
    return [[{"gateway_id": e.gateway_id, "weight": e.weight} for e in t] for t in tiers]


def condition_to(w: RuleCondition) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if w.type is not None:
        out["type"] = w.type.value
    if w.currency is not None:
        out["currency"] = w.currency
    if w.min_amount is not None:
        out["min_amount"] = str(w.min_amount)
    if w.max_amount is not None:
        out["max_amount"] = str(w.max_amount)
    return out


def rules_to(rules: tuple[Rule, ...]) -> list[dict[str, Any]]:
    return [{"when": condition_to(r.when), "tiers": tiers_to(r.tiers)} for r in rules]


def config_to(config: RoutingConfig) -> dict[str, Any]:
    """The document in the contract's JSON shape."""
    return {
        "strategy": config.strategy.value,
        "tiers": tiers_to(config.tiers),
        "rules": rules_to(config.rules),
        "closed_loop": config.closed_loop,
    }
