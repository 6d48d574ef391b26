"""Per-address throttle of dashboard logins: admin keys must not be guessable at line rate.

After ``max_failures`` refused keys from one client address within
``window_s`` seconds, that address gets 429 (with ``Retry-After``) until the
oldest of those failures leaves the window, and its key is not even looked at.
A successful login forgets the address.

The count is kept in this process's memory: each worker process and replica
counts on its own, so a deployment of P processes lets an address try at most
P times ``max_failures`` keys per window — still far from brute force, and no
database write on the path an attacker controls. Memory is bounded: at most
``max_tracked`` addresses of ``max_failures`` timestamps each; beyond that the
address that failed longest ago is forgotten.

The address is the client as the ASGI server reports it (``scope["client"]``).
No header such as ``X-Forwarded-For`` is read here: the service has no
trusted-proxy setting of its own, and a header is whatever the client writes.
The servers decide: granian, as started here, reports the TCP peer; uvicorn
(``payments serve``) replaces it by ``X-Forwarded-For`` only when the peer is
in its ``FORWARDED_ALLOW_IPS`` (default loopback: a reverse proxy on this host).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_TRACKED = 10_000


def throttle_key(address: str) -> str:
    """What one client is counted under.

    IPv6 by /64: a single host usually holds a whole /64 and could otherwise
    rotate addresses at will. IPv4 (also written IPv4-mapped) per address; a
    peer that is no IP (a unix socket, "unknown") as it is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    """Failed logins per client address in a sliding window (one process's view)."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        max_tracked: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_s
        self._max_tracked = max_tracked
        self._clock = clock
        # key -> times of its recent failures, oldest first; least recently failed first.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @property
    def tracked(self) -> int:
        return len(self._failures)

    def retry_after(self, address: str) -> int | None:
        """Whole seconds until ``address`` may try again, or None when it may try now."""
        times = self._recent(throttle_key(address))
        if times is None or len(times) < self._max:
            return None
        return max(1, math.ceil(times[0] + self._window - self._clock()))

    def failed(self, address: str) -> None:
        """Count a refused key from ``address``."""
        key = throttle_key(address)
        times = self._recent(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self._max)
        times.append(self._clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_tracked:
            self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        """A right key: the address starts afresh."""
        self._failures.pop(throttle_key(address), None)

    def _recent(self, key: str) -> deque[float] | None:
        """The key's failures still inside the window (expired ones dropped)."""
        times = self._failures.get(key)
        if times is None:
            return None
        cutoff = self._clock() - self._window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
