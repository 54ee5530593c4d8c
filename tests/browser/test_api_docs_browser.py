"""The API page in a real browser (issue #15 items 7 and 9): Swagger UI, served from the
package, draws every operation under the hub's Content-Security-Policy, offline (any
request to another host is refused here), with no error in the console (a CSP
violation is one, and fails the test through ``make_page``)."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

if not os.environ.get("CI"):  # in CI a missing playwright fails the run instead
    pytest.importorskip(
        "playwright",
        reason="install with: pip install -e '.[dev]' && bash scripts/ensure_chromium.sh",
    )

from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser


def test_the_api_page_works_offline_under_the_csp(page: Page, live_server: str) -> None:
    own = urlsplit(live_server).netloc
    elsewhere: list[str] = []

    def only_this_site(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    answer = page.goto(f"{live_server}/docs")
    assert answer is not None and answer.status == 200
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("paperfeed")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/papers/search" in p.replace("\u200b", "") for p in paths), paths
    assert elsewhere == []
