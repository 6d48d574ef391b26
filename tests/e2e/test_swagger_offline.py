"""Swagger UI renders in a browser that may reach no host but ours (2/7 item 10)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, Route, expect


def test_swagger_ui_renders_the_api_with_every_other_host_blocked(
    page: Page, api: httpx.Client
) -> None:
    ours = urlsplit(str(api.base_url)).netloc
    elsewhere: list[str] = []

    def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto(f"{str(api.base_url).rstrip('/')}/schema/swagger")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Payment gateway integration service"
    )
    expect(page.locator(".opblock-summary-path", has_text="/deposit").first).to_be_visible()
    assert elsewhere == []
