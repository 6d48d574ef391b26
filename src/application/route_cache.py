"""A short-lived, in-process cache of users' countries and countries' routes.

Every payment needs both, and they change only through the admin API, so
reading them from PostgreSQL each time cost a whole unit of work per payment
(five round trips in the benchmark's statement log). Admin use cases of this
process invalidate at once; other processes see a change within
``ttl_s`` — routing is also guarded by breakers and operator status, read
fresh here on every miss.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from domain.routing import GatewayRoute
from domain.user import User


class RouteCache:
    def __init__(self, ttl_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._users: dict[int, tuple[float, User]] = {}
        self._routes: dict[str, tuple[float, list[GatewayRoute]]] = {}

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

    def remember(self, user: User, routes: list[GatewayRoute]) -> None:
        if self._ttl_s <= 0:
            return
        expires = self._clock() + self._ttl_s
        self._users[user.id] = (expires, user)
        self._routes[user.country.value] = (expires, list(routes))

    def invalidate(self) -> None:
        """Forget everything (an operator changed users, routes or gateways)."""
        self._users.clear()
        self._routes.clear()
