"""Templates never reach the database (refs #16): routes load what a page shows (votes, the
viewer's votes, submitters, thumbnails, comment threads, permissions, the viewer's
collections, whether a paper is hidden) before they render, and hand the template plain
data. Here every page template, and the vote fragment, is rendered as a visitor, a member
and a moderator, on a hub with all of those, while any SQL statement run from inside a
template's rendering is refused; a template global or filter that queried (as
``social()``, ``is_hidden()`` and ``cards_prefetch()`` once did) fails here."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jinja2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from community_support import (
    NOW,
    Inbox,
    add_paper,
    community_settings,
    csrf_of,
    member_client,
    post_form,
    smtp,
)
from paperfeed.deliver.app import create_app
from paperfeed.deliver.web.templating import TEMPLATES
from paperfeed.store import submissions, thumbnails
from paperfeed.store.engine import writing

__all__ = ["smtp"]

#: Every template a route renders as a whole page (partials are included by them).
PAGE_TEMPLATES = {
    p.name for p in TEMPLATES.glob("*.html") if p.name[0] != "_" and p.name != "base.html"
} | {"_vote_fragment.html"}


@dataclass
class Guard:
    rendered: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)


@contextmanager
def rendering_refuses_sql(monkeypatch: pytest.MonkeyPatch) -> Iterator[Guard]:
    """Refuse (and record) every statement any engine runs while a template renders."""
    guard = Guard()
    local = threading.local()
    original = jinja2.Template.render

    def render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        local.depth = getattr(local, "depth", 0) + 1
        guard.rendered.add(self.name or "<string>")
        try:
            return original(self, *args, **kwargs)
        finally:
            local.depth -= 1

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if getattr(local, "depth", 0):
            guard.refused.append(statement)
            raise RuntimeError(f"a template ran SQL: {statement}")

    monkeypatch.setattr(jinja2.Template, "render", render)
    event.listen(Engine, "before_cursor_execute", refuse)
    try:
        yield guard
    finally:
        event.remove(Engine, "before_cursor_execute", refuse)


@pytest.fixture
def hub(db_url: str, smtp: tuple[Inbox, int], tmp_path: Any) -> Iterator[TestClient]:
    """A hub with votes, a submission, thumbnails, collections, comments (a reply, one
    hidden) and a hidden paper; papers embedded, so paper pages show similar ones."""
    app = create_app(community_settings(db_url, smtp[1], tmp_path, embedder="static"))
    app.state.services.recommender.wait_seconds = None
    with TestClient(app) as client:
        for n in range(1, 13):
            add_paper(
                client,
                f"2611.{n:05d}",
                title=f"Graph study {n}",
                abstract=f"Graph neural networks on molecules, variant {n}.",
                authors=("Ann Lee", f"Bo {n}"),
                upvotes=n % 4,
            )
        client.app.state.hub.semantic.embed_missing()  # type: ignore[attr-defined]
        yield client


def _populate(hub: TestClient) -> dict[str, TestClient]:
    ann = member_client(hub, "ann")
    moe = member_client(hub, "moe", "moderator")
    engine = hub.app.state.services.accounts.engine  # type: ignore[attr-defined]
    with writing(engine) as conn:
        submissions.record(conn, paper_id=2, user_id=1, now=NOW)
        for pid in (1, 2, 3):
            thumbnails.save(
                conn,
                pid,
                image=b"RIFF\x00\x00\x00\x00WEBP",
                media_type="image/webp",
                width=320,
                height=200,
                source="test",
                attempts=1,
                now=NOW,
            )
    paper = "/papers/2611.00001"
    post_form(ann, "/collections", {"title": "Reading", "public": "1"}, page="/collections")
    for pid in (1, 2, 3):
        post_form(ann, f"/papers/id/{pid}/collect", {"collection_id": "1"}, page=paper)
        post_form(ann, f"/papers/id/{pid}/upvote", {"on": "1"}, page=paper)
    post_form(ann, "/papers/id/1/comments", {"body": "A *comment*"}, page=paper)
    post_form(moe, "/papers/id/1/comments", {"body": "A reply", "parent_id": "1"}, page=paper)
    post_form(moe, "/papers/id/1/comments", {"body": "Off topic"}, page=paper)
    post_form(moe, "/comments/3/hide", {"hidden": "1"}, page=paper)
    post_form(moe, "/papers/id/7/hide", {"hidden": "1", "reason": "spam"}, page=paper)
    return {"visitor": hub, "member": ann, "moderator": moe}


PAGES = (
    "/",
    f"/papers/date/{NOW.date().isoformat()}",
    "/papers/week/2026-W48",
    "/papers/month/2026-11",
    "/trending",
    "/search",
    "/search?q=graph",
    "/authors/Ann%20Lee",
    "/collections",
    "/collections/1",
    "/for-you",
    "/papers/2611.00001",
    "/papers/2611.00007",
    "/papers/2611.99999",
    "/submit",
    "/admin",
    "/digest",
    "/comments/1/edit",
    "/account/login",
    "/account/signup",
    "/account/settings",
    "/account/digest",
    "/account/recommendations",
)


def test_no_template_queries_the_database(hub: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    browsers = _populate(hub)
    with rendering_refuses_sql(monkeypatch) as guard:
        for who, browser in browsers.items():
            for path in PAGES:
                answer = browser.get(path)
                assert answer.status_code < 500, (who, path, answer.text[:500])
            fragment = browser.get(PAGES[1], headers={"HX-Request": "true"})
            assert fragment.status_code == 200
        member = browsers["member"]
        voted = member.post(
            "/papers/id/2/upvote",
            data={"csrf": csrf_of(member, "/"), "on": "0"},
            headers={"HX-Request": "true"},
        )
        assert voted.status_code == 200 and 'id="vote-2"' in voted.text
        forgot = post_form(hub, "/account/forgot", {"email": "nobody@example.org"})
        assert forgot.status_code == 200
    assert guard.refused == []
    assert guard.rendered >= PAGE_TEMPLATES, PAGE_TEMPLATES - guard.rendered
    # The pages showed what their routes loaded: thumbnails, votes, threads, moderation.
    page = browsers["moderator"].get("/papers/2611.00001").text
    assert "/thumbnails/2.webp" in page and "Off topic" in page and "Hide the paper" in page
    assert re.search(r'aria-pressed="true"[^>]*>▲', browsers["member"].get("/").text)


def test_the_guard_refuses_a_template_that_queries(
    hub: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard above can fail: a global that asks the database, as the removed ones did."""
    engine = hub.app.state.hub.engine  # type: ignore[attr-defined]

    def peek() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM papers")).scalar_one())

    env = hub.app.state.templates.env  # type: ignore[attr-defined]
    with rendering_refuses_sql(monkeypatch) as guard:
        with pytest.raises(RuntimeError, match="a template ran SQL"):
            env.from_string("{{ peek() }} papers").render(peek=peek)
        assert peek() == 12  # outside a template the database answers
    assert len(guard.refused) == 1
