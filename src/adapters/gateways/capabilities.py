"""What each configured gateway can do, as its wire family declares it."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.gateways.wire_family import WireFamily
from domain.transaction import TransactionType


class FamilyCapabilities:
    """GatewayCapabilities from each gateway's family (``WireFamily.offers``)."""

    def __init__(self, families: Mapping[str, WireFamily]) -> None:
        self._families = dict(families)

    def offers(self, gateway_id: str, operation: TransactionType) -> bool:
        family = self._families.get(gateway_id)
        # A gateway this process has no adapter for is the dispatcher's problem
        # (it fails over); it is not refused here.
        return family is None or family.offers(operation)
