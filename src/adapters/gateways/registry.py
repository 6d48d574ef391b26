"""Which adapter serves which gateway id."""

from __future__ import annotations

from collections.abc import Iterable

from application.ports import PaymentProvider


class GatewayRegistry:
    def __init__(self, providers: Iterable[PaymentProvider] = ()) -> None:
        self._providers = {p.gateway_id: p for p in providers}

    def register(self, provider: PaymentProvider) -> None:
        self._providers[provider.gateway_id] = provider

    def get(self, gateway_id: str) -> PaymentProvider | None:
        return self._providers.get(gateway_id)
