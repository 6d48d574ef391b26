"""stripe-mock fixtures: Stripe's official API mock, which validates every request.

Where it comes from, first match wins:
1. ``PAYMENTS_TEST_STRIPE_MOCK_URL`` (e.g. from ``scripts/stripe-mock start``); one
   that does not answer is a failure, never a skip;
2. ``scripts/stripe-mock start`` on a free port, when Go is on PATH (it installs the
   pinned version into its cache once);
3. none: tests skip (or fail when PAYMENTS_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.services import skip_or_fail

STRIPE_MOCK_URL_ENV = "PAYMENTS_TEST_STRIPE_MOCK_URL"
SCRIPT = Path(__file__).parents[2] / "scripts" / "stripe-mock"


def _answers(url: str) -> str | None:
    """None when stripe-mock at ``url`` answers, else why not."""
    try:
        httpx.get(f"{url}/v1/payment_intents/pi_probe", timeout=5, trust_env=False)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def stripe_mock_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a stripe-mock that answers."""
    url = os.environ.get(STRIPE_MOCK_URL_ENV)
    if url:
        error = _answers(url)
        if error is not None:
            pytest.fail(
                f"{STRIPE_MOCK_URL_ENV}={url} is set but stripe-mock does not answer ({error});"
                " is it running? (scripts/stripe-mock status)",
                pytrace=False,
            )
        yield url.rstrip("/")
        return
    if shutil.which("go") is None:
        skip_or_fail(f"stripe-mock: {STRIPE_MOCK_URL_ENV} unset and no Go to install it")
    env = {
        **os.environ,
        "STRIPE_MOCK_PORT": str(_free_port()),
        "STRIPE_MOCK_RUN_DIR": str(tmp_path_factory.mktemp("stripe-mock") / "run"),
    }
    started = subprocess.run(
        ["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        skip_or_fail(f"scripts/stripe-mock start failed: {started.stderr.strip()[-500:]}")
    try:
        yield started.stdout.strip().removeprefix("STRIPE_MOCK_URL=")
    finally:
        subprocess.run(
            ["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60, check=False
        )
