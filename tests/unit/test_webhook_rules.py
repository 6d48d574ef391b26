"""The webhook rules of the domain: URLs, event filters, public addresses, retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidInput
from domain.webhooks import (
    EVENT_TYPES,
    RetrySchedule,
    is_public_address,
    matches,
    parse_events,
    parse_url,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    ["https://platform.example/hooks", "http://10.0.0.1:8080/x?y=1", "https://[2001:db8::1]/h"],
)
def test_http_and_https_urls_with_a_host_are_accepted(url: str) -> None:
    assert parse_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://platform.example/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://user:secret@platform.example/x",
        "https://user@platform.example/x",
        "https:///no-host",
        "https://platform.example:99999/x",
        "https://platform.example:0/x",
        "https://platform.example/a b",
        "https://platform.example/\r\nX-Injected: 1",
        "https://" + "a" * 2050 + ".example/",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        parse_url(url)


def test_the_event_filter_is_known_types_or_star_alone() -> None:
    assert parse_events(["*"]) == ("*",)
    assert parse_events(["transaction.completed", "transaction.completed"]) == (
        "transaction.completed",
    )
    for bad in ([], ["transaction.teleported"], ["*", "transaction.failed"]):
        with pytest.raises(InvalidInput):
            parse_events(bad)
    assert all(matches(("*",), t) for t in EVENT_TYPES)
    assert matches(("transaction.failed",), "transaction.failed")
    assert not matches(("transaction.failed",), "transaction.completed")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 (an address to refuse, not to bind)
        "224.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "100.64.0.1",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    schedule = RetrySchedule(base_s=10, cap_s=60, window=timedelta(hours=72))
    slowest = [schedule.next_retry(n, T0, T0, jitter=lambda: 1.0) for n in range(1, 6)]
    assert [(d - T0).total_seconds() for d in slowest if d] == [10, 20, 40, 60, 60]
    fastest = schedule.next_retry(3, T0, T0, jitter=lambda: 0.0)
    assert fastest is not None
    assert (fastest - T0).total_seconds() == 20  # half of 40: "equal jitter"


def test_the_last_retry_is_held_to_the_end_of_the_window_then_none() -> None:
    schedule = RetrySchedule(base_s=10, cap_s=3600, window=timedelta(hours=1))
    almost = T0 + timedelta(minutes=59)
    assert schedule.next_retry(20, T0, almost, jitter=lambda: 1.0) == T0 + timedelta(hours=1)
    assert schedule.next_retry(21, T0, T0 + timedelta(hours=1)) is None


def test_an_endpoint_failing_for_the_whole_window_is_exhausted() -> None:
    schedule = RetrySchedule(base_s=1, cap_s=60, window=timedelta(hours=72))
    assert schedule.streak_start(None, T0) == T0
    assert schedule.streak_start(T0 - timedelta(hours=1), T0) == T0 - timedelta(hours=1)
    assert not schedule.exhausted(T0, T0 + timedelta(hours=71))
    assert schedule.exhausted(T0, T0 + timedelta(hours=72))
