"""The registered gateway wire families: the one place a new family is added.

A new family is one module declaring its :class:`WireFamily` (see
``json_family.py``) plus one entry below; the sandbox registers its simulated
PSP of the family in ``entrypoints/sandbox/families.py``.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.gateways.json_family import JSON
from adapters.gateways.soap_family import SOAP
from adapters.gateways.stripe_family import STRIPE_API
from adapters.gateways.wire_family import WireFamily


class WireFamilies:
    """The wire families by name."""

    def __init__(self, families: Iterable[WireFamily]) -> None:
        self._families = {family.name: family for family in families}

    def get(self, name: str) -> WireFamily:
        """The family called ``name``; KeyError names the ones there are."""
        try:
            return self._families[name]
        except KeyError:
            raise KeyError(f"no gateway wire family {name!r} (known: {self.names})") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._families)


FAMILIES = WireFamilies([JSON, SOAP, STRIPE_API])
