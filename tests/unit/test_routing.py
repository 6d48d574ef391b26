from domain.routing import GatewayRoute, rank_gateways
from domain.transaction import TransactionType

BOTH = frozenset({TransactionType.DEPOSIT, TransactionType.WITHDRAWAL})


def route(gid: str, priority: int, **kw: object) -> GatewayRoute:
    defaults: dict[str, object] = {"operations": BOTH, "currencies": frozenset({"USD", "EUR"})}
    defaults.update(kw)
    return GatewayRoute(gid, priority, **defaults)  # type: ignore[arg-type]


def ids(routes: list[GatewayRoute]) -> list[str]:
    return [r.gateway_id for r in routes]


def test_ranks_by_priority_lowest_number_first() -> None:
    routes = [route("adyen", 3), route("paypal", 1), route("stripe", 2)]
    assert ids(rank_gateways(routes, TransactionType.DEPOSIT, "USD")) == [
        "paypal",
        "stripe",
        "adyen",
    ]


def test_skips_gateways_without_the_operation_or_currency() -> None:
    routes = [
        route("paypal", 1, operations=frozenset({TransactionType.DEPOSIT})),
        route("stripe", 2, currencies=frozenset({"EUR"})),
        route("adyen", 3),
    ]
    assert ids(rank_gateways(routes, TransactionType.WITHDRAWAL, "USD")) == ["adyen"]
    assert ids(rank_gateways(routes, TransactionType.DEPOSIT, "USD")) == ["paypal", "adyen"]


def test_skips_gateways_an_operator_switched_off() -> None:
    routes = [route("paypal", 1, enabled=False), route("stripe", 2)]
    assert ids(rank_gateways(routes, TransactionType.DEPOSIT, "USD")) == ["stripe"]


def test_equal_priorities_break_ties_by_id_for_a_stable_order() -> None:
    routes = [route("zeta", 1), route("alpha", 1)]
    assert ids(rank_gateways(routes, TransactionType.DEPOSIT, "USD")) == ["alpha", "zeta"]


def test_no_route_gives_an_empty_ranking() -> None:
    assert rank_gateways([], TransactionType.DEPOSIT, "USD") == []
