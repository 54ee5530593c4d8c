"""The community in a real browser: a newcomer signs up, confirms the e-mailed link,
logs in, submits a paper, upvotes it, comments and curates a collection; a moderator
hides the comment and finds it in the audit log. And hostile text in titles, abstracts,
comments, user names and collection notes never runs as script.

The server is a real ``paperfeed serve`` on 127.0.0.1 with its mail going to an aiosmtpd
server and its arXiv API to a replay of a recorded response, both run by this module."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

if not os.environ.get("CI"):  # in CI a missing playwright fails the run instead
    pytest.importorskip(
        "playwright",
        reason="install with: pip install -e '.[dev]' && bash scripts/ensure_chromium.sh",
    )

from playwright.sync_api import Page, expect

from community_support import PASSWORD, SECRET, Inbox, one_entry
from ports import smtp_server
from replay_server import ReplayServer, Reply
from tests_support import NewDatabase

pytestmark = pytest.mark.browser
FROZEN = "2026-06-13T16:00:00+00:00"  # two days after the recorded arXiv papers


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = smtp_server(box)
    yield box, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def arxiv() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    yield server
    server.stop()


def _accounts(url: str) -> Any:
    from paperfeed.config import load_settings
    from paperfeed.deliver import security
    from paperfeed.deliver.community.accounts import Accounts
    from paperfeed.store.engine import make_engine

    settings = load_settings(database_url=url, secret_key=SECRET)
    return Accounts(settings, make_engine(url), settings.clock(), security.load_secret(settings))


def _env(inbox: tuple[Inbox, int], arxiv: ReplayServer) -> dict[str, str]:
    return {
        "PAPERFEED_FROZEN_TIME": FROZEN,
        "PAPERFEED_TIMEZONE": "UTC",
        "PAPERFEED_SECRET_KEY": SECRET,
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(inbox[1]),
        "PAPERFEED_SMTP_TLS": "none",
        "PAPERFEED_MAIL_FROM": "hub@paperfeed.test",
        "PAPERFEED_ARXIV_API_URL": f"{arxiv.url}/api/query",
        "PAPERFEED_ARXIV_DELAY_SECONDS": "0",
        "PAPERFEED_HTTP_RETRIES": "0",
        "PAPERFEED_EMBED_ON_INGEST": "false",
        "PAPERFEED_EMBEDDER": "static",
    }


@pytest.fixture(scope="module")
def hub(
    start_server: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
    new_database: NewDatabase,
    inbox: tuple[Inbox, int],
    arxiv: ReplayServer,
) -> str:
    url = new_database(tmp_path_factory.mktemp("community-db"))
    _accounts(url).create_user(
        email="mod@example.org", username="mod", password=PASSWORD, role="moderator"
    )
    return str(start_server(url, _env(inbox, arxiv)).url)


def _fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"form.account [name={name}]", value)


def test_a_newcomer_joins_and_takes_part_and_a_moderator_moderates(
    page: Page,
    make_page: Callable[..., Page],
    hub: str,
    inbox: tuple[Inbox, int],
    arxiv: ReplayServer,
    screenshot: Callable[..., Path],
) -> None:
    # Sign up and confirm the e-mailed link.
    page.goto(f"{hub}/")
    page.get_by_role("link", name="Sign up").click()
    _fill(page, {"email": "ada@example.org", "username": "ada", "password": PASSWORD})
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("h1")).to_have_text("Confirm your address")
    link = inbox[0].last_link("ada@example.org")
    parts = urlsplit(link)  # the link names PAPERFEED_BASE_URL; this server is elsewhere
    page.goto(f"{hub}{parts.path}?{parts.query}")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.locator("h1")).to_have_text("Address confirmed")

    # Log in.
    page.get_by_role("link", name="Log in").first.click()
    _fill(page, {"email": "ada@example.org", "password": PASSWORD})
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("nav.account")).to_contain_text("ada")

    # Submit a paper: it lands on today's list, submitted by ada.
    arxiv.script(
        "/api/query", Reply(200, one_entry("2606.13677"), {"Content-Type": "application/atom+xml"})
    )
    page.get_by_role("link", name="Submit").click()
    page.fill("#arxiv-id", "https://arxiv.org/abs/2606.13677v1")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("h1#title")).to_contain_text("Mana: Dexterous Manipulation")
    expect(page.locator(".submitted")).to_contain_text("submitted by ada")
    page.goto(f"{hub}/")
    card = page.locator("article.paper").first
    expect(card).to_contain_text("Mana: Dexterous Manipulation")
    expect(card.locator(".submitted")).to_contain_text("ada")

    # Upvote from the list (htmx swaps the vote box in place), then take it back.
    vote = card.locator(".votes")
    expect(vote.locator("b")).to_have_text("0")
    vote.get_by_role("button", name="Upvote").click()
    expect(card.locator(".votes b")).to_have_text("1")
    expect(card.get_by_role("button", name="Remove your upvote")).to_have_attribute(
        "aria-pressed", "true"
    )
    page.reload()
    expect(page.locator("article.paper").first.locator(".votes b")).to_have_text("1")
    screenshot("community-upvoted", page)

    # Comment in Markdown on the paper page.
    page.locator("article.paper h2 a").first.click()
    page.fill("#comment-body", "A **clever** trick; see [the project](https://example.org).")
    page.get_by_role("button", name="Comment").click()
    comment = page.locator("article.comment").first
    expect(comment.locator("strong")).to_have_text("clever")
    expect(comment.locator(".comment-body a")).to_have_attribute("rel", "nofollow noopener ugc")

    # Curate a public collection with a note.
    page.goto(f"{hub}/collections")
    page.fill("#c-title", "Robot hands")
    page.check("input[name=public]")
    page.get_by_role("button", name="Create the collection").click()
    expect(page.locator("h1")).to_have_text("Robot hands")
    collection_url = page.url
    page.goto(f"{hub}/papers/2606.13677")
    page.locator("details.collect-menu summary").click()  # "Save", beside the title (#18)
    page.select_option("#collect-which", label="Robot hands")
    page.fill("#collect-note", "Read the sim-to-real part")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".note")).to_contain_text("Read the sim-to-real part")
    expect(page.locator("article.paper")).to_contain_text("Mana: Dexterous Manipulation")
    screenshot("community-collection", page)

    # A visitor sees the public collection and its feed link, but no owner forms.
    visitor = make_page()
    visitor.goto(collection_url)
    expect(visitor.locator(".note")).to_contain_text("sim-to-real")
    expect(visitor.get_by_role("button", name="Remove")).to_have_count(0)

    # A moderator hides the comment; it is gone for ada; the audit log says so.
    moderator = make_page()
    moderator.goto(f"{hub}/account/login")
    moderator.fill("form.account [name=email]", "mod@example.org")
    moderator.fill("form.account [name=password]", PASSWORD)
    moderator.get_by_role("button", name="Log in").click()
    moderator.goto(f"{hub}/papers/2606.13677")
    moderator.locator("article.comment").first.get_by_role("button", name="Hide").click()
    expect(moderator.locator("article.comment").first).to_contain_text("hidden by moderators")
    page.goto(f"{hub}/papers/2606.13677")
    expect(page.locator("article.comment")).to_have_count(0)
    moderator.get_by_role("link", name="Admin").click()
    expect(moderator.locator("#audit")).to_contain_text("hide")
    expect(moderator.locator("#audit")).to_contain_text("comment")
    screenshot("community-admin", moderator)


# -- hostile text never runs -------------------------------------------------------------------

XSS = "<script>window.__xss=(window.__xss||0)+1</script><img src=x onerror=window.__xss=1>"


@pytest.fixture(scope="module")
def hostile_hub(
    start_server: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
    new_database: NewDatabase,
    inbox: tuple[Inbox, int],
    arxiv: ReplayServer,
) -> str:
    from datetime import UTC, date, datetime

    from paperfeed.deliver.community.passwords import hash_password
    from paperfeed.index.lexical import database as lexical
    from paperfeed.models import Paper
    from paperfeed.store import collections, comments, submissions, users
    from paperfeed.store import papers as store
    from paperfeed.store.engine import make_engine, writing

    url = new_database(tmp_path_factory.mktemp("hostile-db"))
    now = datetime(2026, 6, 13, 12, tzinfo=UTC)
    engine = make_engine(url)
    paper = Paper(
        title=f"Hostile {XSS}",
        abstract=f"Abstract {XSS} with $x<y$",
        arxiv_id="2606.00001",
        authors=(f"Eve {XSS}",),
        featured_on=date(2026, 6, 13),
        published_at=now,
        source="test",
    )
    with writing(engine) as conn:
        (pid,) = store.insert_papers(conn, [paper.with_arxiv_links()], now)
        lexical.sync(conn, [pid])  # as ingestion does: searchable on either database
        evil = users.create_user(
            conn,
            email="evil@example.org",
            username=XSS[:32],
            password_hash=hash_password(PASSWORD),
            role="member",
            now=now,
            verified=True,
        )
        submissions.record(conn, paper_id=pid, user_id=evil.id, now=now)
        comments.add(conn, paper_id=pid, user_id=evil.id, parent_id=None, body=XSS, now=now)
        cid = collections.create(
            conn, user_id=evil.id, title=f"List {XSS}", description=XSS, public=True, now=now
        )
        collections.put_item(conn, cid, pid, f"Note {XSS}", now)
    engine.dispose()
    return str(start_server(url, _env(inbox, arxiv)).url)


def test_hostile_text_never_runs(page: Page, hostile_hub: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    failed_images: list[str] = []
    page.on("requestfailed", lambda r: failed_images.append(r.url))
    for path in (
        "/",
        "/trending",
        "/papers/2606.00001",
        "/collections",
        "/collections/1",
        "/search?q=Hostile",
    ):
        page.goto(f"{hostile_hub}{path}")
        expect(page.locator("main")).to_contain_text("<script>")  # shown as text
        assert page.evaluate("window.__xss === undefined"), f"a payload ran on {path}"
    assert dialogs == []
    assert not [u for u in failed_images if u.endswith("/x")], "no hostile <img> was loaded"
