"""What the sandbox needs to simulate a PSP of one wire family.

The service side of a family is a ``WireFamily`` (``adapters/gateways``); its
counterpart here plays the PSP: the gateway-side endpoints our adapter calls,
and the signed callback the PSP sends once a payment settles. Each family
declares one :class:`SimulatedFamily` in its own module (``json_psp.py``,
``soap_psp.py``); ``families.py`` registers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from litestar import Controller

from entrypoints.sandbox.psp import Gateways, SandboxPayment


@dataclass(frozen=True, slots=True)
class SettledPayment:
    """A payment that took its final status, and what its callback is signed with."""

    payment: SandboxPayment
    event_id: str  # one per event, however often its delivery is retried
    secrets: list[str]  # the gateway's webhook secrets; the first signs SOAP items
    merchant_account: str  # the account our SOAP adapter sends


@dataclass(frozen=True, slots=True)
class SimulatedFamily:
    """One family's simulated PSP: its endpoints and its callbacks."""

    name: str
    # The gateway-side routes of the family's PSPs, bound to the sandbox's gateways.
    controller: Callable[[Gateways], type[Controller]]
    # The body and headers of the callback announcing a settled payment.
    callback: Callable[[SettledPayment], tuple[bytes, dict[str, str]]]
