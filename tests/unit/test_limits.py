from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InsufficientFunds, InvalidInput, LimitExceeded
from domain.limits import WINDOW, Counted, VelocityLimit, check_velocity
from domain.withdrawable import refuse_above_withdrawable, withdrawable_minor

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def test_an_unlimited_limit_admits_anything() -> None:
    check_velocity(VelocityLimit(), 10**12, [Counted(ago(1), 10**12)] * 50, NOW)


def test_a_payment_above_the_per_transaction_maximum_is_refused() -> None:
    with pytest.raises(LimitExceeded) as refused:
        check_velocity(VelocityLimit(max_minor=10_000), 10_001, [], NOW)
    assert (refused.value.limit, refused.value.window, refused.value.resets_at) == (
        "max_amount",
        "transaction",
        None,
    )


def test_the_maximum_itself_is_allowed() -> None:
    check_velocity(VelocityLimit(max_minor=10_000), 10_000, [], NOW)


def test_the_count_limit_resets_when_the_oldest_counted_leaves_the_window() -> None:
    recent = [Counted(ago(20), 1), Counted(ago(5), 1), Counted(ago(2), 1)]
    check_velocity(VelocityLimit(daily_count=4), 1, recent, NOW)
    with pytest.raises(LimitExceeded) as refused:
        check_velocity(VelocityLimit(daily_count=3), 1, recent, NOW)
    assert refused.value.limit == "daily_count"
    assert refused.value.window == "24h"
    assert refused.value.resets_at == ago(20) + WINDOW


def test_with_more_counted_than_allowed_the_reset_waits_for_enough_to_leave() -> None:
    recent = [Counted(ago(h), 1) for h in (23, 22, 21, 1)]
    with pytest.raises(LimitExceeded) as refused:
        check_velocity(VelocityLimit(daily_count=2), 1, recent, NOW)
    # Three must leave before a third payment fits: the one from 21 h ago is the last of them.
    assert refused.value.resets_at == ago(21) + WINDOW


def test_the_daily_amount_resets_when_enough_amount_has_left_the_window() -> None:
    recent = [Counted(ago(10), 300), Counted(ago(4), 500)]
    check_velocity(VelocityLimit(daily_amount_minor=1000), 200, recent, NOW)
    with pytest.raises(LimitExceeded) as refused:
        check_velocity(VelocityLimit(daily_amount_minor=1000), 400, recent, NOW)
    assert refused.value.limit == "daily_amount"
    assert refused.value.resets_at == ago(10) + WINDOW


def test_payments_older_than_a_day_do_not_count() -> None:
    recent = [Counted(ago(24.01), 1000), Counted(ago(30), 1000)]
    check_velocity(VelocityLimit(daily_amount_minor=1000, daily_count=1), 1000, recent, NOW)


def test_limits_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        VelocityLimit(daily_count=0)
    with pytest.raises(InvalidInput):
        VelocityLimit(max_minor=-1)


def test_deposits_inside_their_window_are_not_withdrawable() -> None:
    assert withdrawable_minor(10_000, 6_000) == 4_000
    assert withdrawable_minor(5_000, 6_000) == 0
    with pytest.raises(InsufficientFunds, match="reversal window"):
        refuse_above_withdrawable(4_001, 10_000, 6_000)
    refuse_above_withdrawable(4_000, 10_000, 6_000)


def test_above_the_available_balance_is_plainly_insufficient() -> None:
    with pytest.raises(InsufficientFunds, match="insufficient balance"):
        refuse_above_withdrawable(10_001, 10_000, 0)
