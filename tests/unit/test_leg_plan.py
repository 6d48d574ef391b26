from datetime import UTC, datetime, timedelta

import pytest

from domain.closed_loop import FundingSource, PlannedLeg, plan_legs
from domain.errors import InvalidInput

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def source(gateway: str, funded: int, hours: int, returned: int = 0) -> FundingSource:
    return FundingSource(gateway, funded, returned, T0 + timedelta(hours=hours))


def test_a_withdrawal_goes_back_through_the_newest_source_first() -> None:
    sources = [source("paypal", 6000, 0), source("stripe", 4000, 1)]
    assert plan_legs(8000, sources) == [PlannedLeg("stripe", 4000), PlannedLeg("paypal", 4000)]


def test_what_the_sources_cannot_take_follows_the_normal_route() -> None:
    sources = [source("paypal", 3000, 0)]
    assert plan_legs(8000, sources) == [PlannedLeg("paypal", 3000), PlannedLeg(None, 5000)]


def test_capacity_is_net_of_earlier_returns() -> None:
    sources = [source("paypal", 6000, 0), source("stripe", 4000, 1, returned=4000)]
    assert plan_legs(5000, sources) == [PlannedLeg("paypal", 5000)]


def test_a_source_that_cannot_pay_out_is_skipped() -> None:
    sources = [source("paypal", 6000, 0), source("stripe", 4000, 1)]
    legs = plan_legs(8000, sources, can_pay_out=lambda g: g != "stripe")
    assert legs == [PlannedLeg("paypal", 6000), PlannedLeg(None, 2000)]


def test_excluded_gateways_are_left_out_after_a_failed_leg() -> None:
    sources = [source("paypal", 6000, 0), source("stripe", 4000, 1)]
    assert plan_legs(4000, sources, exclude={"stripe"}) == [PlannedLeg("paypal", 4000)]


def test_without_sources_the_whole_amount_follows_the_normal_route() -> None:
    assert plan_legs(100, []) == [PlannedLeg(None, 100)]


@pytest.mark.parametrize("amount", [1, 3999, 4000, 4001, 9999, 10000, 25000])
def test_the_legs_always_sum_to_the_request(amount: int) -> None:
    sources = [source("paypal", 6000, 0), source("stripe", 4000, 1), source("adyen", 0, 2)]
    legs = plan_legs(amount, sources)
    assert sum(leg.amount_minor for leg in legs) == amount
    assert all(leg.amount_minor > 0 for leg in legs)


def test_a_plan_needs_a_positive_amount() -> None:
    with pytest.raises(InvalidInput):
        plan_legs(0, [])
