"""The simulated PSPs of each wire family: the one place a new family is added.

A new family is one module declaring its :class:`SimulatedFamily` (see
``json_psp.py``) plus one entry below, next to its ``WireFamily`` in
``adapters/gateways/families.py``.
"""

from __future__ import annotations

from litestar import Controller
from litestar.types import Guard

from entrypoints.sandbox.app import sandbox_controller
from entrypoints.sandbox.family import SimulatedFamily
from entrypoints.sandbox.json_psp import JSON_PSP
from entrypoints.sandbox.psp import Gateways
from entrypoints.sandbox.soap_psp import SOAP_PSP
from entrypoints.sandbox.stripe_psp import STRIPE_PSP

SIMULATED_FAMILIES: dict[str, SimulatedFamily] = {
    f.name: f for f in (JSON_PSP, SOAP_PSP, STRIPE_PSP)
}


def sandbox_routes(sandbox: Gateways, admin_guard: Guard) -> list[type[Controller]]:
    """Every sandbox route: the control routes, then each family's gateway-side ones."""
    return [
        sandbox_controller(sandbox, admin_guard),
        *(family.controller(sandbox) for family in SIMULATED_FAMILIES.values()),
    ]
