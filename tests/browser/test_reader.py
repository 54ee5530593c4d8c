"""What a reader does, in a real browser (Debian chromium driven by Playwright): move
between days, expand an abstract, search, open a paper, follow a similar paper, switch
the theme. The server's clock is frozen at 2026-11-23; the sample papers are featured on
the fourteen days up to it. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

if not os.environ.get("CI"):  # in CI a missing playwright fails the run instead
    pytest.importorskip(
        "playwright",
        reason="install with: pip install -e '.[dev]' && bash scripts/ensure_chromium.sh",
    )

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small: is the page blank?"


def test_move_between_days_and_expand_an_abstract(
    page: Page, live_server: str, screenshot: Callable[..., Path]
) -> None:
    page.goto(f"{live_server}/")
    expect(page.locator("h1")).to_have_text("Daily Papers")
    expect(page.locator(".sub").first).to_contain_text("November 23, 2026")
    cards = page.locator("article.paper")
    assert cards.count() >= 40
    expect(cards.first.locator(".badge")).to_have_text("new")

    details = cards.first.locator("details")
    expect(details.locator("p")).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator("p")).to_be_visible()
    _png(screenshot("reader-home-desktop"))

    page.locator('a[rel="prev"]').first.click()
    expect(page).to_have_url(f"{live_server}/papers/date/2026-11-22")
    expect(page.locator(".sub").first).to_contain_text("November 22, 2026")
    expect(page.locator("article.paper .badge")).to_have_count(0)

    page.fill("#pick", "2026-11-15")
    page.locator("#pick ~ button").click()
    expect(page).to_have_url(f"{live_server}/papers/date/2026-11-15")
    page.locator("a", has_text="Week 2026-W46").click()
    expect(page.locator(".sub").first).to_contain_text("Week 2026-W46")


def test_search_open_a_paper_and_follow_a_similar_one(
    page: Page, live_server: str, screenshot: Callable[..., Path]
) -> None:
    page.goto(f"{live_server}/")
    page.fill("#quick-q", "training-free video")
    page.locator("form.quick button").click()
    expect(page).to_have_url(f"{live_server}/search?q=training-free+video")
    results = page.locator("article.paper")
    expect(results.first).to_be_visible()
    expect(results.first.locator("mark").first).to_be_visible()
    _png(screenshot("reader-search"))

    title = results.first.locator("h2 a").inner_text()
    results.first.locator("h2 a").click()
    expect(page.locator("h1#title")).to_have_text(title)
    expect(page.locator("#bibtex")).to_contain_text("@misc{")
    similar = page.locator("section[aria-labelledby=similar-h] article.paper")
    expect(similar).to_have_count(6)
    neighbour = similar.first.locator("h2 a").inner_text()
    similar.first.locator("h2 a").click()
    expect(page.locator("h1#title")).to_have_text(neighbour)
    assert neighbour != title
    _png(screenshot("reader-paper"))


def test_an_invalid_search_explains_itself(
    page: Page, live_server: str, console_errors: list[str]
) -> None:
    response = page.goto(f"{live_server}/search?q=after:someday")
    assert response is not None and response.status == 400
    expect(page.locator(".problem")).to_contain_text("after: expected a date as YYYY-MM-DD")
    # The browser logs the page's own 400 status; that is the point of this test, not a bug.
    console_errors[:] = [e for e in console_errors if "status of 400" not in e]


def test_switch_theme_and_keep_it(
    page: Page, live_server: str, screenshot: Callable[..., Path]
) -> None:
    page.goto(f"{live_server}/")
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_be_visible()
    before = page.evaluate("getComputedStyle(document.body).backgroundColor")
    toggle.click()
    after = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert before != after
    theme = page.evaluate("document.documentElement.dataset.theme")
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    _png(screenshot(f"reader-home-{theme}"))


def test_phone_width_has_no_sideways_scroll(
    phone_page: Page, live_server: str, screenshot: Callable[..., Path]
) -> None:
    for path in ("/", "/search?q=feed-forward", "/trending"):
        phone_page.goto(f"{live_server}{path}")
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    _png(screenshot("reader-trending-phone", phone_page))


def test_keyboard_reaches_the_skip_link_first(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"


def test_latex_renders_on_a_paper_page(
    page: Page, live_server: str, sample_db_url: str, tmp_path: Path
) -> None:
    listing = [
        {
            "paper": {
                "id": "2611.01234",
                "title": "Bounds for $\\ell_1$ recovery",
                "summary": "We prove that $\\|x\\|_2 \\le \\sqrt{n}$ holds whenever $x^2 > 0$.",
                "authors": [{"name": "Ada Lovelace"}],
                "publishedAt": "2026-11-20T00:00:00.000Z",
                "submittedOnDailyAt": "2026-11-21T00:00:00.000Z",
                "upvotes": 3,
            }
        }
    ]
    file = tmp_path / "math.json"
    file.write_text(json.dumps(listing))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(PAPERFEED_DATABASE_URL=sample_db_url, PAPERFEED_EMBEDDER="static")
    subprocess.run(
        [sys.executable, "-m", "paperfeed", "ingest", "hf-daily", str(file)],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    page.goto(f"{live_server}/papers/2611.01234")
    expect(page.locator("h1#title .katex").first).to_be_visible()
    expect(page.locator(".abstract-full .katex")).to_have_count(2)
