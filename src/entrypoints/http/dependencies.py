"""Bridge from the dependency-injector container into Litestar's DI.

Handlers ask for use cases by parameter name; ``Provide`` resolves them from
the container kept in app state (STYLE.md rule 5: no ``@inject`` on handlers).
"""

from __future__ import annotations

import inspect
from typing import Any

from litestar.datastructures import State
from litestar.di import Provide


async def resolve(provider: Any) -> Any:
    """Call a provider; await it when it depends on async resources."""
    value = provider()
    if inspect.isawaitable(value):
        value = await value
    return value


def from_container(name: str) -> Provide:
    async def provide(state: State) -> Any:
        return await resolve(getattr(state["container"], name))

    return Provide(provide)


DEPENDENCIES = {
    name: from_container(name)
    for name in (
        "deposit",
        "withdraw",
        "get_transaction",
        "list_transactions",
        "get_balances",
        "upsert_user",
        "list_gateways",
        "set_gateway_status",
        "get_country_gateways",
        "set_country_gateways",
        "readiness",
        "list_issues",
        "receive_callback",
    )
}
