"""Recommendations in a real browser: a member upvotes a handful of papers on the search
page, opens "For you" and sees each paper with its reason (links to the papers they liked),
clicks "Not interested" and the paper goes, for good."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

if not os.environ.get("CI"):  # in CI a missing playwright fails the run instead
    pytest.importorskip(
        "playwright",
        reason="install with: pip install -e '.[dev]' && bash scripts/ensure_chromium.sh",
    )

from playwright.sync_api import Page, expect

from community_support import PASSWORD, SECRET

pytestmark = pytest.mark.browser
ENV = {"PAPERFEED_EMBEDDER": "static", "PAPERFEED_SECRET_KEY": SECRET}


@pytest.fixture(scope="module")
def hub(start_server: Callable[..., Any], make_sample_db: Callable[..., str]) -> str:
    from paperfeed.config import load_settings
    from paperfeed.deliver import security
    from paperfeed.deliver.community.accounts import Accounts
    from paperfeed.store.engine import make_engine

    url = make_sample_db(embed=True, env=ENV)
    settings = load_settings(database_url=url, secret_key=SECRET)
    engine = make_engine(url)
    accounts = Accounts(settings, engine, settings.clock(), security.load_secret(settings))
    accounts.create_user(email="ada@example.org", username="ada", password=PASSWORD, role="member")
    engine.dispose()
    return str(start_server(url, ENV).url)


def test_a_member_upvotes_sees_reasons_and_steers(
    page: Page, hub: str, screenshot: Callable[..., Path]
) -> None:
    page.goto(f"{hub}/account/login")
    page.fill("form.account [name=email]", "ada@example.org")
    page.fill("form.account [name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("nav.account")).to_contain_text("ada")

    # Upvote a handful of papers about one topic.
    page.goto(f"{hub}/search?q=gaussian+splatting")
    cards = page.locator("article.paper")
    liked: list[str] = []
    for i in range(5):
        card = cards.nth(i)
        liked.append(card.locator("h2").inner_text().strip())
        card.get_by_role("button", name="Upvote").click()
        expect(card.get_by_role("button", name="Remove your upvote")).to_be_visible()

    # "For you" explains each paper with links to the liked ones.
    page.get_by_role("link", name="For you").click()
    expect(page.locator("h1")).to_have_text("For you")
    items = page.locator(".for-you-item")
    expect(items.first).to_be_visible()
    first_reason = items.first.locator(".reason")
    expect(first_reason).to_contain_text("close to")
    named = [t.strip() for t in items.first.locator("a.liked").all_inner_texts()]
    assert named and set(named) <= set(liked), (named, liked)
    titles = [t.strip() for t in page.locator(".for-you-item article h2").all_inner_texts()]
    assert not set(titles) & set(liked)
    screenshot("for-you-desktop")

    # "Not interested": the card goes at once (htmx), and stays gone.
    gone = titles[0]
    items.first.get_by_role("button", name="Not interested").click()
    expect(page.locator(".for-you-item article h2", has_text=gone)).to_have_count(0)
    expect(page.locator(".for-you-item:visible").first).to_be_visible()
    page.reload()
    expect(page.locator("article h2", has_text=gone)).to_have_count(0)

    # Steering: an exclusion on the settings page is absolute.
    page.get_by_role("link", name="Steer your recommendations").click()
    page.select_option("#ex-kind", "keyword")
    page.fill("#ex-value", "Gaussian")
    page.get_by_role("button", name="Add").first.click()
    expect(page.locator("ul.exclusions")).to_contain_text("Gaussian")
    page.goto(f"{hub}/for-you")
    # The paper itself (title and abstract), not the "Why" line, which names liked papers.
    shown = page.locator(".for-you-item article").evaluate_all(
        "cards => cards.map(c => c.querySelector('h2').textContent + ' '"
        " + c.querySelector('details.abstract p').textContent)"
    )
    assert shown
    for text in shown:
        assert "gaussian" not in text.lower()

    # Opening a paper's page tells the hub (a POST on load; the page's GET changes nothing).
    with page.expect_response(lambda r: r.url.endswith("/viewed")) as viewed:
        page.locator(".for-you-item article h2 a").first.click()
    assert viewed.value.status == 204
