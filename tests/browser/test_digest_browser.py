"""The digest e-mail and the subscribe call to action in a real browser (Debian chromium
driven by Playwright), at desktop and phone width. The digest is the HTML part that
``DigestSender.preview`` builds from the 30 real Hugging Face fixture papers; screenshots
go to test-output/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

if not os.environ.get("CI"):  # in CI a missing playwright fails the run instead
    pytest.importorskip(
        "playwright",
        reason="install with: pip install -e '.[dev]' && bash scripts/ensure_chromium.sh",
    )

from playwright.sync_api import Page, expect

from digest_support import add_subscriber, digest_settings, sender_for
from paperfeed.clock import FrozenClock
from paperfeed.ingest.hf_daily import HfDailySource
from paperfeed.ingest.pipeline import ingest
from paperfeed.rank.editions import Edition
from paperfeed.store.engine import make_engine
from tests_support import FIXTURES, NewDatabase

pytestmark = pytest.mark.browser
SEEN = datetime(2026, 6, 12, 18, 0, tzinfo=UTC)  # the fixture's day, before its digest


@pytest.fixture(scope="module")
def digest_html(tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase) -> Path:
    folder = tmp_path_factory.mktemp("digest-browser")
    url = new_database(folder)
    engine = make_engine(url)
    clock = FrozenClock(SEEN)
    ingest(engine, HfDailySource(FIXTURES / "hf_daily_papers_api.json"), clock=clock)
    add_subscriber(
        engine, "ada@example.org", searches=("video generation", "reinforcement learning")
    )
    settings = digest_settings(url, 25, folder, frozen_time=SEEN)
    message = sender_for(settings, engine, clock).preview(
        "ada@example.org", Edition("daily", date(2026, 6, 12))
    )
    engine.dispose()
    part = message.get_body(("html",))
    assert part is not None
    path = folder / "digest.html"
    path.write_text(part.get_content(), encoding="utf-8")
    return path


def _png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small: is the page blank?"


def test_the_digest_reads_well_on_a_desktop(
    page: Page, digest_html: Path, screenshot: Callable[..., Path]
) -> None:
    page.goto(digest_html.as_uri())
    expect(page.locator("h1")).to_have_text("Today's trending papers")
    sections = page.locator("h2")
    expect(sections.first).to_have_text("Trending today")
    expect(page.locator("h2", has_text="New papers matching “video generation”")).to_be_visible()
    titles = page.locator(".paper-title a")
    assert titles.count() >= 10
    assert titles.first.get_attribute("href", timeout=1000).startswith("https://hub.test/papers/")  # type: ignore[union-attr]
    expect(page.locator("a", has_text="Unsubscribe")).to_be_visible()
    card = page.locator("table.card").bounding_box()
    assert card is not None and card["width"] <= 642  # a readable column, centred
    _png(screenshot("digest-desktop", page, full_page=True))


def test_the_digest_fits_a_phone(
    phone_page: Page, digest_html: Path, screenshot: Callable[..., Path]
) -> None:
    phone_page.goto(digest_html.as_uri())
    expect(phone_page.locator("h1")).to_be_visible()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the digest scrolls sideways on a phone ({width}px)"
    expect(phone_page.locator("a", has_text="Preferences")).to_be_visible()
    _png(screenshot("digest-phone", phone_page, full_page=True))


def test_subscribe_from_the_home_page(
    phone_page: Page, live_server: str, screenshot: Callable[..., Path]
) -> None:
    phone_page.goto(f"{live_server}/")
    cta = phone_page.locator("details.cta")
    expect(cta.locator("h2")).to_have_text("Get trending papers in your email inbox!")
    # On a phone the box is one closed line, so that the papers come first (#18).
    expect(cta.locator("input[type=email]")).to_be_hidden()
    cta.locator("summary").click()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the home page scrolls sideways on a phone ({width}px)"
    _png(screenshot("digest-cta-phone", phone_page))
    cta.locator("input[type=email]").fill("reader@example.org")
    cta.locator("select").select_option("weekly")
    cta.locator("button[type=submit]").click()
    expect(phone_page.locator("h1")).to_have_text("Confirm your subscription")
    expect(phone_page.locator(".notice")).to_contain_text("Check your inbox")
