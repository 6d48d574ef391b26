"""Helpers shared by fixtures that need real services (PostgreSQL, Kafka)."""

from __future__ import annotations

import os
from typing import NoReturn

import docker  # type: ignore[import-untyped]
import pytest

REQUIRE_SERVICES_ENV = "PAYMENTS_REQUIRE_SERVICES"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test when a service is missing, or fail it where services are required.

    CI sets PAYMENTS_REQUIRE_SERVICES=1 so a missing database or broker can
    never turn into a silently green run.
    """
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES_ENV}=1)", pytrace=False)
    pytest.skip(reason)


def docker_available(timeout: float = 2.0) -> bool:
    """Whether a Docker engine answers a ping, without waiting long."""
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False
