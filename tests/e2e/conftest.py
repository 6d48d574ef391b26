"""End-to-end fixtures: the real service over HTTP, and Debian's Chromium driven by Playwright.

The browser is the distribution's ``/usr/bin/chromium`` (``apt-get install
chromium``; ``.ci/run`` installs it): ``playwright install`` would download a
browser build, which cannot work without internet. Playwright's sync API is
used from plain (non-async) tests: no event loop runs while a test body runs,
which the sync API requires.

PostgreSQL comes from the integration fixtures, re-exported by name below so
that pytest registers them for this directory too (a conftest only serves its
own directory). Only fixtures are imported — not that conftest's collection
hook — so no test is marked twice. When the whole suite runs, the
session-scoped server and template database are set up once for each
directory: pytest keys fixture instances by the conftest that declares them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from adapters.postgres.migrator import load_demo_data
from tests.e2e.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    TIMEOUT_MS,
    run_async,
    safe_name,
    screenshot,
)
from tests.integration.conftest import (  # noqa: F401  fixtures, re-exported for pytest
    database_url,
    postgres_server_url,
    template_database,
)
from tests.integration.services import skip_or_fail
from tests.support.api import serve_api

HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives a real browser against the running service")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Service tests like the integration ones: the running service needs
    # PostgreSQL, the page needs Chromium. Pure tests here stay unmarked.
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        uses = set(getattr(item, "fixturenames", ()))
        if uses & {"api", "demo_database_url", "database_url"}:
            item.add_marker(pytest.mark.integration)
        if "page" in uses or "browser" in uses:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    # Keep each phase's report on the item, so the page fixture knows whether
    # the test failed and saves a screenshot of what the browser showed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def demo_database_url(database_url: str) -> str:  # noqa: F811  (replaces the async one)
    """``database_url`` with the demo data, like the integration fixture of that name.

    A sync fixture on purpose: pytest-asyncio cannot run an async fixture while
    Playwright's sync API holds the main thread's event loop (the browser is
    module-scoped, so it starts before any function-scoped fixture).
    """
    run_async(load_demo_data(database_url))
    return database_url


@pytest.fixture
def api(demo_database_url: str) -> Iterator[httpx.Client]:
    """The whole service (API, dashboard, sandbox gateways) on a fresh demo database."""
    with serve_api(demo_database_url) as client:
        yield client


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        skip_or_fail(
            f"no Chromium at {CHROMIUM}: apt-get install -y chromium "
            "(or point PAYMENTS_TEST_CHROMIUM at one)"
        )
    expect.set_options(timeout=TIMEOUT_MS)  # expect() waits 5 s by default: too short for refreshes
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    """One headless Chromium per module, with a user-data-dir of its own."""
    with tempfile.TemporaryDirectory(prefix="payments-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},  # a laptop screen
            locale="en-GB",
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab with no cookies; fails the test on script errors or CSP violations."""
    browser.clear_cookies()
    (SCREENSHOTS / f"FAILED-{safe_name(request.node.name)}.png").unlink(missing_ok=True)
    tab = browser.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    tab.on("dialog", lambda dialog: dialog.accept())  # the "switch down?" confirmation
    try:
        yield tab
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            screenshot(tab, f"FAILED-{request.node.name}")
        assert not problems, problems
    finally:
        tab.close()
