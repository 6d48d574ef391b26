"""Outgoing webhooks: which events an endpoint hears, which URLs it may have,
and when a failed delivery is tried again.

A platform registers an endpoint; every lifecycle event of a transaction is
POSTed to each enabled endpoint whose filter matches it, at least once.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from domain.errors import InvalidInput

# Every event a transaction records (domain/transaction.py ``_record``).
EVENT_TYPES = (
    "transaction.created",
    "transaction.processing",
    "transaction.completed",
    "transaction.failed",
)
ALL_EVENTS = "*"
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION = 500
# A rolled secret keeps signing next to the new one for this long by default,
# at most a week: long enough to deploy a verifier, short enough to retire a leak.
DEFAULT_SECRET_OVERLAP_HOURS = 24
MAX_SECRET_OVERLAP_HOURS = 168


def previous_secret_expiry(now: datetime, overlap_hours: int) -> datetime | None:
    """Until when the secret a roll replaces still signs; None: it is dropped at once."""
    if not 0 <= overlap_hours <= MAX_SECRET_OVERLAP_HOURS:
        raise InvalidInput(
            f"expire_previous_in_hours must be between 0 and {MAX_SECRET_OVERLAP_HOURS}"
        )
    return None if overlap_hours == 0 else now + timedelta(hours=overlap_hours)


def parse_events(events: Sequence[str]) -> tuple[str, ...]:
    """The event filter: known event types, or ``("*",)`` for every one."""
    if not events:
        raise InvalidInput('events must name at least one event type, or be ["*"]')
    unique = tuple(dict.fromkeys(events))
    if ALL_EVENTS in unique:
        if len(unique) > 1:
            raise InvalidInput('"*" already means every event; give it alone')
        return (ALL_EVENTS,)
    unknown = [e for e in unique if e not in EVENT_TYPES]
    if unknown:
        raise InvalidInput(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return unique


def matches(events: Sequence[str], event_type: str) -> bool:
    return ALL_EVENTS in events or event_type in events


def parse_url(url: str) -> str:
    """An http(s) URL with a host and no user info; InvalidInput otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"url must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        raise InvalidInput("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise InvalidInput("url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("url must be http:// or https://")
    if "@" in parts.netloc:
        # Credentials in a URL end up in logs and proxies; use the secret instead.
        raise InvalidInput("url must not carry user info (user:password@)")
    if not parts.hostname:
        raise InvalidInput("url must name a host")
    if port == 0:
        raise InvalidInput("url port must be 1-65535")
    return url


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses.

    False for loopback, private, link-local, shared (CGNAT), multicast,
    reserved and unspecified ones, IPv4-mapped IPv6 included.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """Exponential backoff with jitter, for at most ``window`` after the first try.

    The n-th retry waits ``min(cap, base * 2**(n-1))`` scaled by a random factor
    in [0.5, 1.0] ("equal jitter"), so endpoints that failed together do not
    all come back at the same instant.
    """

    base_s: float
    cap_s: float
    window: timedelta

    def next_retry(
        self,
        attempt: int,
        first_try_at: datetime,
        now: datetime,
        jitter: Callable[[], float] = random.random,
    ) -> datetime | None:
        """When attempt ``attempt + 1`` is due, or None once the window is over.

        The last retry is held to the window's end, so an event is tried
        once more when the window closes (and a dead endpoint is then found
        to have failed for the whole window).
        """
        end = first_try_at + self.window
        if now >= end:
            return None
        delay = min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 60))
        return min(now + timedelta(seconds=delay * (0.5 + 0.5 * jitter())), end)

    def streak_start(self, failing_since: datetime | None, first_try_at: datetime) -> datetime:
        """Since when an endpoint that just failed this event has been failing.

        At least since the event was due: it could not be delivered since.
        """
        return first_try_at if failing_since is None else min(failing_since, first_try_at)

    def exhausted(self, failing_since: datetime, now: datetime) -> bool:
        """An endpoint failing for the whole window is disabled."""
        return now - failing_since >= self.window
