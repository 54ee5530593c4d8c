"""Hostile text never becomes markup: titles, abstracts, authors, comments, user names
(and collection notes, see test_collections) render as inert text on every page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from community_support import (
    NOW,
    PASSWORD,
    active_markup,
    add_paper,
    app_client,
    inbox,
    log_in,
    smtp,
)
from paperfeed.deliver.community.passwords import hash_password
from paperfeed.store import comments, submissions, users
from paperfeed.store.engine import writing

__all__ = ["app_client", "inbox", "smtp"]

PAYLOADS = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=window.__xss=1>",
    '"><svg onload=window.__xss=1>',
    "'><a href=javascript:window.__xss=1>x</a>",
    "</textarea><script>window.__xss=1</script>",
    "{{ 7*7 }}<iframe src=javascript:1>",
]
HOSTILE = " ".join(PAYLOADS)
OWN_SCRIPTS = re.compile(r"^/static/")


def _own_scripts(html: str) -> set[str]:
    return {s for s in re.findall(r'<script src="([^"]+)"', html) if OWN_SCRIPTS.match(s)}


def _inert(html: str) -> None:
    problems = active_markup(html, allowed_scripts=_own_scripts(html))
    assert problems == [], problems


def seed_hostile(client: TestClient) -> int:
    pid = add_paper(
        client,
        title=f"Title {HOSTILE}",
        abstract=f"Abstract {HOSTILE}",
        authors=(f"Author {PAYLOADS[1]}",),
        comments=f"arXiv comments {PAYLOADS[0]}",
    )
    engine = client.app.state.services.accounts.engine  # type: ignore[attr-defined]
    with writing(engine) as conn:
        # A hostile user name cannot be chosen at sign-up; store one anyway to test rendering.
        evil = users.create_user(
            conn,
            email="evil@example.org",
            username="<script>window.__xss=1</script>",
            password_hash=hash_password(PASSWORD),
            role="member",
            now=NOW,
            verified=True,
        )
        submissions.record(conn, paper_id=pid, user_id=evil.id, now=NOW)
        for body in PAYLOADS:
            comments.add(conn, paper_id=pid, user_id=evil.id, parent_id=None, body=body, now=NOW)
    return pid


def test_hostile_text_is_inert_on_every_page(app_client: TestClient) -> None:
    seed_hostile(app_client)
    paths = ["/", "/trending", "/papers/2611.00001", "/search?q=Title", "/papers/date/2026-11-23"]
    for path in paths:
        page = app_client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        _inert(page.text)
        assert "&lt;script&gt;" in page.text, path
        assert "{{ 7*7 }}" in page.text, "text is never evaluated as a template"
    log_in(app_client, "evil@example.org")
    for path in [*paths, "/account/settings", "/comments/1/edit"]:
        page = app_client.get(path)
        assert page.status_code == 200, path
        _inert(page.text)


def test_hostile_text_stays_text_in_json(app_client: TestClient) -> None:
    seed_hostile(app_client)
    listed = app_client.get("/api/papers/2611.00001/comments").json()
    assert listed["data"][0]["body"] == PAYLOADS[0]
    for item in listed["data"]:
        assert active_markup(item["html"]) == [], item["html"]
    assert (
        app_client.get("/api/papers/2611.00001/comments")
        .headers["content-type"]
        .startswith("application/json")
    )
