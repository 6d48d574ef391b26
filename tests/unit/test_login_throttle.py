"""The dashboard's per-address login throttle, on a fake clock."""

from __future__ import annotations

from entrypoints.http.dashboard.login_throttle import LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, address: str, times: int) -> None:
    for _ in range(times):
        assert throttle.retry_after(address) is None
        throttle.failed(address)


def test_an_address_is_refused_after_n_failures_until_the_window_has_passed() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=5, window_s=300, clock=clock)
    fail(throttle, "203.0.113.7", 4)
    clock.now += 100
    fail(throttle, "203.0.113.7", 1)
    # The oldest of the five failures leaves the window 300 s after it happened.
    assert throttle.retry_after("203.0.113.7") == 200
    clock.now += 199.5
    assert throttle.retry_after("203.0.113.7") == 1  # rounded up, never 0
    clock.now += 0.5
    assert throttle.retry_after("203.0.113.7") is None
    # One more failure and the four from t=0 are gone: only two count now.
    throttle.failed("203.0.113.7")
    fail(throttle, "203.0.113.7", 3)
    assert throttle.retry_after("203.0.113.7") is not None


def test_a_success_forgets_the_address() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60, clock=FakeClock())
    fail(throttle, "203.0.113.7", 2)
    assert throttle.retry_after("203.0.113.7") == 60
    throttle.succeeded("203.0.113.7")
    assert throttle.retry_after("203.0.113.7") is None
    assert throttle.tracked == 0


def test_the_addresses_tracked_are_bounded() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60, max_tracked=100, clock=FakeClock())
    fail(throttle, "203.0.113.7", 2)
    for n in range(1000):
        throttle.failed(f"198.51.{n // 256}.{n % 256}")
        assert throttle.tracked <= 100
    # The oldest entries are the ones let go.
    assert throttle.retry_after("203.0.113.7") is None


def test_ipv6_addresses_of_one_64_prefix_share_one_budget() -> None:
    # One host usually holds a whole /64: per-address counting would not stop it.
    throttle = LoginThrottle(max_failures=3, window_s=60, clock=FakeClock())
    for n in range(3):
        throttle.failed(f"2001:db8:1:2::{n + 1:x}")
    assert throttle.retry_after("2001:db8:1:2:ffff::9") is not None
    assert throttle.retry_after("2001:db8:1:3::1") is None
    # IPv4 counts per address, in either spelling; so do non-IP peers (unix sockets).
    fail(throttle, "::ffff:192.0.2.1", 3)
    assert throttle.retry_after("192.0.2.1") is not None
    assert throttle.retry_after("192.0.2.2") is None
    fail(throttle, "unknown", 3)
    assert throttle.retry_after("unknown") is not None
