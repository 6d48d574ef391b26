"""Routing strategies: weighted sticky draws, rules, success rate with elimination."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal

import pytest

from domain.errors import InvalidInput
from domain.money import Money
from domain.routing import GatewayRoute, Priority
from domain.routing_config import (
    RoutingConfig,
    Rule,
    RuleCondition,
    Strategy,
    TierEntry,
    from_priorities,
    validate_config,
)
from domain.routing_plan import plan_route
from domain.routing_stats import GatewayStats, SuccessRatePolicy, wilson_interval
from domain.transaction import TransactionType

DEPOSIT = TransactionType.DEPOSIT
BOTH = frozenset({TransactionType.DEPOSIT, TransactionType.WITHDRAWAL})
ROUTES = [
    GatewayRoute(g, n, BOTH, frozenset({"USD", "EUR"}))
    for n, g in enumerate(["paypal", "stripe", "adyen"], 1)
]
KNOWN = {"paypal", "stripe", "adyen"}
USD_10 = Money.parse("10.00", "USD")


def tx_ids(n: int, namespace: str = "routing") -> list[str]:
    ns = uuid.uuid5(uuid.NAMESPACE_URL, namespace)
    return [str(uuid.uuid5(ns, str(i))) for i in range(n)]


def first(config: RoutingConfig, tx: str, money: Money = USD_10, **kw: object) -> str:
    return plan_route(config, ROUTES, tx, DEPOSIT, money, **kw)[0].gateway_id  # type: ignore[arg-type]


def order(config: RoutingConfig, tx: str, money: Money = USD_10, **kw: object) -> list[str]:
    routes = plan_route(config, ROUTES, tx, DEPOSIT, money, **kw)  # type: ignore[arg-type]
    return [r.gateway_id for r in routes]


def binomial_two_sided_p(k: int, n: int, p: float) -> float:
    """Exact two-sided binomial test: the mass of outcomes no likelier than k."""
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(x for x in pmf if x <= pmf[k] * (1 + 1e-9)))


SPLIT = RoutingConfig(
    Strategy.WEIGHTED,
    ((TierEntry("paypal", 70), TierEntry("stripe", 30)), (TierEntry("adyen", 100),)),
)


def test_a_70_30_split_over_1000_deposits_passes_a_binomial_test() -> None:
    picks = [first(SPLIT, tx) for tx in tx_ids(1000)]
    paypal = picks.count("paypal")
    assert paypal + picks.count("stripe") == 1000
    assert binomial_two_sided_p(paypal, 1000, 0.7) > 0.001, paypal
    # The test can fail: the same draw at 50/50 would be rejected.
    assert binomial_two_sided_p(paypal, 1000, 0.5) < 0.001


def test_the_same_transaction_id_always_draws_the_same_gateway() -> None:
    for tx in tx_ids(200):
        assert len({first(SPLIT, tx) for _ in range(5)}) == 1
        assert order(SPLIT, tx) == order(SPLIT, tx)


def test_fallback_runs_tier_by_tier_after_the_split() -> None:
    for tx in tx_ids(50):
        tried = order(SPLIT, tx)
        assert sorted(tried[:2]) == ["paypal", "stripe"]
        assert tried[2] == "adyen"


def test_a_switched_off_gateway_leaves_its_weight_to_the_others() -> None:
    routes = [GatewayRoute("paypal", 1, BOTH, frozenset({"USD"}), enabled=False), *ROUTES[1:]]
    for tx in tx_ids(50):
        assert plan_route(SPLIT, routes, tx, DEPOSIT, USD_10)[0].gateway_id == "stripe"


BIG_USD_TO_ADYEN = RoutingConfig(
    Strategy.PRIORITY,
    ((TierEntry("paypal"),), (TierEntry("stripe"),)),
    rules=(
        Rule(
            RuleCondition(type=DEPOSIT, currency="USD", min_amount=Decimal("1000.00")),
            ((TierEntry("adyen"),), (TierEntry("paypal"),)),
        ),
    ),
)


@pytest.mark.parametrize(
    ("amount", "currency", "operation", "expected"),
    [
        ("1000.00", "USD", DEPOSIT, "adyen"),
        ("25000.00", "USD", DEPOSIT, "adyen"),
        ("999.99", "USD", DEPOSIT, "paypal"),
        ("1000.00", "EUR", DEPOSIT, "paypal"),
        ("1000.00", "USD", TransactionType.WITHDRAWAL, "paypal"),
    ],
)
def test_a_rule_usd_deposits_from_1000_go_to_adyen_first_and_nothing_else(
    amount: str, currency: str, operation: TransactionType, expected: str
) -> None:
    money = Money.parse(amount, currency)
    tried = plan_route(BIG_USD_TO_ADYEN, ROUTES, "t", operation, money)
    assert tried[0].gateway_id == expected
    if expected == "adyen":
        assert [r.gateway_id for r in tried] == ["adyen", "paypal"]


def stats(**rates: tuple[int, int]) -> dict[str, GatewayStats]:
    return {g: GatewayStats(n, ok, 50.0) for g, (n, ok) in rates.items()}


BY_SUCCESS = RoutingConfig(
    Strategy.SUCCESS_RATE, ((TierEntry("paypal"), TierEntry("stripe")), (TierEntry("adyen"),))
)
POLICY = SuccessRatePolicy(min_sample=20, exploration=0.05, eliminate_below=0.5, probe_share=0.05)


def test_success_rate_sends_most_traffic_to_the_better_gateway_and_explores_the_other() -> None:
    snapshot = stats(paypal=(100, 60), stripe=(100, 95))
    picks = [first(BY_SUCCESS, tx, stats=snapshot, policy=POLICY) for tx in tx_ids(2000)]
    share = picks.count("stripe") / len(picks)
    assert 0.92 < share < 0.98
    assert picks.count("paypal") > 0  # exploration keeps measuring paypal


def test_success_rate_tries_unmeasured_gateways_as_if_perfect() -> None:
    snapshot = stats(paypal=(100, 90), stripe=(5, 4))
    assert (
        first(BY_SUCCESS, tx_ids(1)[0], stats=snapshot, policy=SuccessRatePolicy(exploration=0))
        == "stripe"
    )


def test_a_gateway_below_the_threshold_goes_after_every_tier_except_for_probes() -> None:
    snapshot = stats(paypal=(100, 30), stripe=(100, 95))
    orders = [order(BY_SUCCESS, tx, stats=snapshot, policy=POLICY) for tx in tx_ids(2000)]
    probes = [o for o in orders if o[0] == "paypal"]
    assert 0.02 < len(probes) / len(orders) < 0.08
    for o in orders:
        if o[0] != "paypal":
            assert o == ["stripe", "adyen", "paypal"]


def test_the_success_rate_order_is_reproducible_per_transaction() -> None:
    snapshot = stats(paypal=(100, 60), stripe=(100, 95))
    for tx in tx_ids(100):
        assert order(BY_SUCCESS, tx, stats=snapshot, policy=POLICY) == order(
            BY_SUCCESS, tx, stats=snapshot, policy=POLICY
        )


def test_latency_breaks_a_tie_in_success_rate() -> None:
    snapshot = {"paypal": GatewayStats(100, 95, 900.0), "stripe": GatewayStats(100, 95, 40.0)}
    assert (
        first(BY_SUCCESS, "t", stats=snapshot, policy=SuccessRatePolicy(exploration=0)) == "stripe"
    )


def test_a_priority_list_becomes_one_gateway_per_tier_and_back() -> None:
    config = from_priorities([Priority("stripe", 2), Priority("paypal", 1)])
    assert config.strategy is Strategy.PRIORITY
    assert order(config, "t") == ["paypal", "stripe"]
    assert config.as_priorities() == [Priority("paypal", 1), Priority("stripe", 2)]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (RoutingConfig(Strategy.WEIGHTED, ((TierEntry("nope"),),)), "unknown gateway"),
        (
            RoutingConfig(Strategy.WEIGHTED, ((TierEntry("paypal", 0),),)),
            "weights must be positive",
        ),
        (RoutingConfig(Strategy.WEIGHTED, ((),)), "at least one gateway"),
        (
            RoutingConfig(Strategy.WEIGHTED, ((TierEntry("paypal"), TierEntry("paypal")),)),
            "only once",
        ),
        (
            RoutingConfig(
                Strategy.PRIORITY,
                ((TierEntry("paypal"),),),
                rules=(
                    Rule(
                        RuleCondition(min_amount=Decimal(5), max_amount=Decimal(1)),
                        ((TierEntry("adyen"),),),
                    ),
                ),
            ),
            "can never match",
        ),
        (
            RoutingConfig(
                Strategy.PRIORITY,
                ((TierEntry("paypal"),),),
                rules=(
                    Rule(RuleCondition(currency="USD"), ((TierEntry("adyen"),),)),
                    Rule(
                        RuleCondition(currency="USD", min_amount=Decimal(1000)),
                        ((TierEntry("stripe"),),),
                    ),
                ),
            ),
            r"rules\[1\] catches it first",
        ),
    ],
)
def test_a_document_routing_could_not_follow_is_refused(
    config: RoutingConfig, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_config(config, KNOWN)


def test_a_narrower_rule_before_a_broader_one_is_accepted() -> None:
    config = RoutingConfig(
        Strategy.PRIORITY,
        ((TierEntry("paypal"),),),
        rules=(
            Rule(
                RuleCondition(currency="USD", min_amount=Decimal(1000)), ((TierEntry("stripe"),),)
            ),
            Rule(RuleCondition(currency="USD"), ((TierEntry("adyen"),),)),
        ),
    )
    assert validate_config(config, KNOWN) is config


def test_the_wilson_interval_covers_the_rate_and_narrows_with_the_sample() -> None:
    low, high = wilson_interval(60, 100)
    assert low < 0.6 < high
    low2, high2 = wilson_interval(600, 1000)
    assert high2 - low2 < high - low
    assert wilson_interval(0, 0) == (0.0, 1.0)
