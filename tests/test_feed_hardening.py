"""Feeds as a reader sees them (issue #15): every author reaches feedparser's ``author``
(what the `reader` library and most readers show, item 17); the RSS channel description
is HTML-escaped like every RSS description (item 7); a collection's feed changes its
validators when a paper is added and its entries carry when the paper was added and the
member's note (item 16)."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from community_support import (
    NOW,
    add_paper,
    app_client,
    clock_of,
    inbox,
    make_member,
    smtp,
    token_for,
)
from paperfeed.deliver.render.feeds import FeedMeta, render_atom, render_rss
from paperfeed.models import Paper, StoredPaper

__all__ = ["app_client", "inbox", "smtp"]  # fixtures

AUTHORS = ("Ada Lovelace", "Erwin Schrödinger", "Grace Hopper")
META = FeedMeta(
    title="paperfeed · Search: <b>x</b>",
    self_url="https://hub.example.org/feeds/search.rss?q=x",
    page_url="https://hub.example.org/search?q=x",
    feed_id="https://hub.example.org/feeds/search",
    subtitle="Papers about <script>alert(1)</script> & more",
)


def _papers() -> list[StoredPaper]:
    paper = Paper(title="Three authors", abstract="A.", arxiv_id="2606.00001", authors=AUTHORS)
    return [StoredPaper(id=1, paper=paper, first_seen_at=NOW, changed_at=NOW)]


@pytest.mark.parametrize("render", [render_atom, render_rss])
def test_every_author_reaches_a_feed_reader(render) -> None:  # type: ignore[no-untyped-def]
    parsed = feedparser.parse(render(META, _papers(), base_url="https://hub.example.org", now=NOW))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    (entry,) = parsed.entries
    assert entry.author == "Ada Lovelace, Erwin Schrödinger, Grace Hopper"


def test_the_rss_channel_description_is_escaped_html() -> None:
    document = render_rss(META, _papers(), base_url="https://hub.example.org", now=NOW)
    channel = ET.fromstring(document).find("channel")
    assert channel is not None
    description = channel.findtext("description")
    assert description == html.escape("Papers about <script>alert(1)</script> & more", quote=False)
    parsed = feedparser.parse(document)
    assert "<script" not in parsed.feed.subtitle


def test_a_collection_feed_changes_when_a_paper_is_added(app_client: TestClient) -> None:
    old = datetime(2020, 1, 2, tzinfo=UTC)
    add_paper(app_client, "2611.00001", published_at=old, updated_at=old)
    add_paper(app_client, "2611.00002", published_at=old, updated_at=old)
    auth = token_for(app_client, make_member(app_client, "cur"))
    made = app_client.post(
        "/api/collections", headers=auth, json={"title": "Reading", "public": True}
    ).json()
    put = f"/api/collections/{made['id']}/papers"
    app_client.post(put, headers=auth, json={"paper": "2611.00001", "note": "Start here"})
    feed = made["feed"]
    first = app_client.get(feed)
    assert first.status_code == 200
    clock = clock_of(app_client)
    clock.advance(3 * 3600)
    added_at = clock.now()
    app_client.post(put, headers=auth, json={"paper": "2611.00002", "note": "Then <this>"})
    since = app_client.get(feed, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 200, "a reader polling by date must see the new paper"
    assert since.headers["etag"] != first.headers["etag"]
    assert since.headers["last-modified"] == added_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    parsed = feedparser.parse(since.content)
    newest, older = parsed.entries
    assert newest.title == "Paper 2611.00002"
    assert newest.updated == added_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "Then <this>" in newest.summary and "cur" in newest.summary
    assert "Start here" in older.summary
    rss = feedparser.parse(app_client.get(feed.replace(".atom", ".rss")).content)
    assert rss.entries[0].published_parsed[:5] == added_at.timetuple()[:5]
    assert "Then &lt;this&gt;" in rss.entries[0].summary or "Then <this>" in html.unescape(
        rss.entries[0].summary
    )
