"""An in-process cache of users' countries and countries' routes.

Every payment needs both, and they change rarely, so reading them from
PostgreSQL each time cost a unit of work per payment. Every change is
announced (a trigger NOTIFYs at commit, see
adapters/postgres/routing_changes.py) and every serving process drops its
cache when it hears one, or when it cannot listen; ``ttl_s`` is only a last
line of defence. Users are kept up to ``max_users`` (oldest out first), so
the cache stays bounded however many users a platform has. Gateways'
technical health is not cached: breakers and health checks are read fresh
on every payment.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from application.ports.limits import CountryLimits
from domain.routing import GatewayRoute
from domain.routing_config import RoutingConfig
from domain.user import User


class RouteCache:
    def __init__(
        self,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_users = max_users
        self._clock = clock
        self._users: dict[int, tuple[float, User]] = {}
        self._routes: dict[str, tuple[float, list[GatewayRoute]]] = {}
        self._limits: dict[str, tuple[float, CountryLimits]] = {}
        self._configs: dict[str, tuple[float, RoutingConfig]] = {}

    def user(self, user_id: int) -> User | None:
        entry = self._users.get(user_id)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def routes(self, country: str) -> list[GatewayRoute] | None:
        entry = self._routes.get(country)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def config(self, country: str) -> RoutingConfig | None:
        entry = self._configs.get(country)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def remember(
        self, user: User, routes: list[GatewayRoute], config: RoutingConfig | None = None
    ) -> None:
        if self._ttl_s <= 0:
            return
        expires = self._clock() + self._ttl_s
        if len(self._users) >= self._max_users and user.id not in self._users:
            del self._users[next(iter(self._users))]  # the oldest entry
        self._users[user.id] = (expires, user)
        self._routes[user.country.value] = (expires, list(routes))
        if config is not None:
            self._configs[user.country.value] = (expires, config)

    def limits(self, country: str) -> CountryLimits | None:
        """The country's velocity limits (application/admission.py), if known."""
        entry = self._limits.get(country)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def remember_limits(self, country: str, limits: CountryLimits) -> None:
        if self._ttl_s > 0:
            self._limits[country] = (self._clock() + self._ttl_s, limits)

    def invalidate(self) -> None:
        """Forget everything (an operator changed users, routes, gateways or limits)."""
        self._users.clear()
        self._routes.clear()
        self._limits.clear()
        self._configs.clear()
