"""The order one payment tries its gateways under a country's routing document.

Pure and deterministic: the same document, routes, statistics and
transaction id always give the same order, in the live path and in a replay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.money import Money
from domain.routing import GatewayRoute
from domain.routing_config import RoutingConfig, Strategy, TierEntry
from domain.routing_draw import pick, uniform, weighted_order
from domain.routing_stats import NO_STATS, GatewayStats, SuccessRatePolicy
from domain.transaction import TransactionType


def plan_route(
    config: RoutingConfig,
    routes: Sequence[GatewayRoute],
    transaction_id: str,
    operation: TransactionType,
    money: Money,
    stats: Mapping[str, GatewayStats] | None = None,
    policy: SuccessRatePolicy | None = None,
) -> list[GatewayRoute]:
    """Tier by tier, the gateways able to carry this payment, in the order to try them.

    Gateways a tier names that cannot serve the payment (switched off, wrong
    operation or currency, not configured) are left out; gateways
    ``success_rate`` eliminated come after every tier, as a last resort.
    """
    usable = {r.gateway_id: r for r in routes if r.serves(operation, money.currency.code)}
    ordered: list[str] = []
    last_resort: list[str] = []
    for n, tier in enumerate(config.tiers_for(operation, money)):
        entries = [e for e in tier if e.gateway_id in usable and e.gateway_id not in ordered]
        if not entries:
            continue
        salt = f"tier{n}"
        if config.strategy is Strategy.WEIGHTED:
            ordered += weighted_order(entries, transaction_id, salt)
        elif config.strategy is Strategy.SUCCESS_RATE:
            first, out = by_success(entries, transaction_id, salt, stats or {}, policy)
            ordered += first
            last_resort += out
        else:
            ordered += [e.gateway_id for e in entries]
    ordered += [g for g in last_resort if g not in ordered]
    return [usable[g] for g in ordered]


def by_success(
    entries: Sequence[TierEntry],
    transaction_id: str,
    salt: str,
    stats: Mapping[str, GatewayStats],
    policy: SuccessRatePolicy | None = None,
) -> tuple[list[str], list[str]]:
    """A tier under ``success_rate``: its order, and the gateways eliminated from it.

    Best score first (in whole points; ties keep the listed order). A small share of payments
    explores: a random other gateway of the tier goes first, so a gateway
    that lost the lead keeps being measured. A gateway below the elimination
    threshold leaves the tier, except for the probe share, which tries it
    first so it can earn its way back.
    """
    policy = policy or SuccessRatePolicy()

    def of(e: TierEntry) -> GatewayStats:
        return stats.get(e.gateway_id, NO_STATS)

    out = [e for e in entries if policy.eliminated(of(e))]
    kept = [e for e in entries if e not in out] or out
    if kept is out:
        out = []
    # Scores within half a point tie, and ties keep the operator's listed order.
    ranked = sorted(kept, key=lambda e: -round(policy.score(of(e)) * 100))
    order = [e.gateway_id for e in ranked]
    if len(ranked) > 1 and uniform(transaction_id, f"{salt}:explore") < policy.exploration:
        others = ranked[1:]
        chosen = others[pick(others, uniform(transaction_id, f"{salt}:explore-pick"))]
        order.remove(chosen.gateway_id)
        order.insert(0, chosen.gateway_id)
    eliminated = [e.gateway_id for e in out]
    if out and uniform(transaction_id, f"{salt}:probe") < policy.probe_share:
        probe = out[pick(out, uniform(transaction_id, f"{salt}:probe-pick"))].gateway_id
        eliminated.remove(probe)
        order.insert(0, probe)
    return order, eliminated
