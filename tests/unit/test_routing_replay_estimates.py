"""The replay's estimates: kept outcomes stay, moved ones take the draft gateway's rate."""

from __future__ import annotations

import pytest

from domain.routing_replay import GatewaySample, Projection, Tally, project, z_for


def tally_of(*rows: tuple[str, str, bool, int]) -> Tally:
    tally = Tally()
    for now, draft, ok, ms in rows:
        tally.add(now, draft, ok, ms)
    return tally


SAMPLES = {
    "paypal": GatewaySample(100, 60, 80.0, 10.0),
    "stripe": GatewaySample(100, 95, 40.0, 5.0),
}


def test_moved_transactions_take_the_draft_gateways_rate_and_kept_ones_their_outcome() -> None:
    tally = tally_of(("paypal", "paypal", True, 80), ("paypal", "stripe", False, 90))
    rate = project(tally, SAMPLES).success_rate()
    assert tally.changed == 1
    assert rate["estimate"] == pytest.approx((1 + 0.95) / 2)
    latency = project(tally, SAMPLES).latency_ms()
    assert latency["estimate"] == pytest.approx((80 + 40) / 2)


def known(values: dict[str, float | None]) -> dict[str, float]:
    return {k: v for k, v in values.items() if v is not None}


def test_the_prediction_interval_is_wider_and_grows_with_confidence() -> None:
    tally = tally_of(*[("stripe", "paypal", True, 50)] * 50, *[("paypal", "paypal", True, 40)] * 50)
    p = project(tally, SAMPLES)
    r95, r99 = known(p.success_rate(0.95)), known(p.success_rate(0.99))
    assert len(r95) == 5
    assert r95["prediction_low"] < r95["low"] <= r95["estimate"]
    assert r95["estimate"] <= r95["high"] < r95["prediction_high"]
    assert r99["prediction_low"] < r95["prediction_low"]


def test_a_gateway_at_100_percent_still_has_a_spread() -> None:
    tally = tally_of(*[("paypal", "stripe", False, 50)] * 20)
    rate = project(tally, {"stripe": GatewaySample(30, 30, 40.0, 1.0)}).success_rate()
    assert rate["estimate"] == 1.0
    assert rate["low"] is not None
    assert rate["low"] < 1.0


def test_countries_add_up_into_the_total() -> None:
    us = project(tally_of(("paypal", "stripe", False, 50)), SAMPLES)
    gb = project(tally_of(("stripe", "stripe", True, 40)), SAMPLES)
    total = us.plus(gb)
    assert total.n == 2
    assert total.success_rate()["estimate"] == pytest.approx((0.95 + 1) / 2)
    assert Projection().success_rate()["estimate"] is None


def test_the_normal_quantile_matches_the_usual_table() -> None:
    assert z_for(0.95) == pytest.approx(1.96, abs=0.001)
    assert z_for(0.999) == pytest.approx(3.29, abs=0.001)
