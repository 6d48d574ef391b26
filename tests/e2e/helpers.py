"""Helpers shared by the end-to-end tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Page

from tests.support.api import ADMIN_KEY

ROOT = Path(__file__).parent.parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("PAYMENTS_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # runs as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: there is no internet here, and waiting for them slows start-up.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")

TIMEOUT_MS = 10_000  # auto-refresh is every 3-5 s; anything slower than this is a bug


def safe_name(name: str) -> str:
    """A file name from a test name (parametrized ids carry brackets and slashes)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page under test-artifacts/screenshots/ (gitignored test artifacts)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{safe_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base_url: str, key: str = ADMIN_KEY) -> None:
    """Open the dashboard and log in through the form (as an operator would)."""
    page.goto(f"{base_url}/dashboard/login")
    page.get_by_label("Admin API key").fill(key)
    page.get_by_role("button", name="Log in").click()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop in a worker thread.

    Playwright's sync API leaves its own event loop marked as running on the
    main thread while a browser is open, so ``asyncio.run`` (and async pytest
    fixtures) cannot run there.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-async") as pool:
        return pool.submit(asyncio.run, coroutine).result()
