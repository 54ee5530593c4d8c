"""Atom and RSS rendering: parsed back by feedparser and checked against the specs' required
elements with ElementTree; plus the ETag / Last-Modified / 304 decisions."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from paperfeed.deliver.render.feeds import (
    FeedMeta,
    entry_updated,
    feed_etag,
    last_modified,
    not_modified,
    paper_url,
    render_atom,
    render_rss,
)
from paperfeed.models import Paper, StoredPaper

NOW = datetime(2026, 6, 20, 12, 0, 0, tzinfo=UTC)
BASE = "https://hub.example.org/"
A = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")
HOSTILE_TITLE = "Bounds on $\\mathcal{O}(n^2)$ <script>alert('x')</script> & co\x00\x08\x0b\x0c\x1f"
META = FeedMeta(
    title="paperfeed · Daily papers",
    self_url="https://hub.example.org/feeds/daily.atom",
    page_url="https://hub.example.org/",
    feed_id="tag:hub.example.org,2026:daily",
    subtitle="Papers featured today",
)


def stored(pid: int, paper: Paper, *, changed: datetime = NOW) -> StoredPaper:
    return StoredPaper(
        id=pid, paper=paper, first_seen_at=NOW - timedelta(days=1), changed_at=changed
    )


def papers() -> list[StoredPaper]:
    return [
        stored(
            1,
            Paper(
                title=HOSTILE_TITLE + "\n  wrapped",
                abstract="We show $a < b$ & <b>bold</b>\x01 claims.\n\nSecond paragraph.",
                arxiv_id="2606.13677",
                authors=("Ada Lovelace", "Erwin Schrödinger", "Zed \x07Zero"),
                categories=("cs.LG", "stat.ML"),
                primary_category="stat.ML",
                published_at=datetime(2026, 6, 18, 17, 59, 1, tzinfo=UTC),
                updated_at=datetime(2026, 6, 19, 9, 30, 0, tzinfo=UTC),
            ),
        ),
        stored(
            2,
            Paper(
                title="Old-style id, no authors",
                abstract="Strings.",
                arxiv_id="hep-th/9901001",
                categories=("hep-th",),
                published_at=datetime(1999, 1, 4, tzinfo=UTC),
            ),
        ),
        stored(
            3,
            Paper(
                title="A title-only listing",
                abstract="",
                authors=("Solo Author",),
                abs_url="javascript:alert(1)",
            ),
        ),
    ]


def atom(items: list[StoredPaper] | None = None) -> bytes:
    return render_atom(META, papers() if items is None else items, base_url=BASE, now=NOW)


def rss(items: list[StoredPaper] | None = None) -> bytes:
    return render_rss(META, papers() if items is None else items, base_url=BASE, now=NOW)


CLEAN_TITLE = "Bounds on $\\mathcal{O}(n^2)$ <script>alert('x')</script> & co wrapped"


def test_paper_url_uses_arxiv_id_or_hub_id() -> None:
    items = papers()
    assert paper_url(BASE, items[0]) == "https://hub.example.org/papers/2606.13677"
    assert paper_url(BASE, items[1]) == "https://hub.example.org/papers/hep-th/9901001"
    assert paper_url("https://h.example", items[2]) == "https://h.example/papers/id/3"


def test_entry_updated_prefers_paper_dates_then_first_seen() -> None:
    first, second, third = papers()
    assert entry_updated(first) == datetime(2026, 6, 19, 9, 30, tzinfo=UTC)
    assert entry_updated(second) == datetime(1999, 1, 4, tzinfo=UTC)
    assert entry_updated(third) == NOW - timedelta(days=1)
    naive = replace(second, paper=replace(second.paper, published_at=datetime(2020, 1, 1)))
    assert entry_updated(naive) == datetime(2020, 1, 1, tzinfo=UTC)


def test_atom_reads_back_with_feedparser() -> None:
    parsed = feedparser.parse(atom())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == META.title
    assert parsed.feed.id == META.feed_id
    first, second, third = parsed.entries
    assert first.title == CLEAN_TITLE
    assert first.id == "urn:arxiv:2606.13677"
    assert first.link == "https://hub.example.org/papers/2606.13677"
    related = {link.type: link.href for link in first.links if link.rel == "related"}
    assert related == {
        "text/html": "https://arxiv.org/abs/2606.13677",
        "application/pdf": "https://arxiv.org/pdf/2606.13677",
    }
    # One author element naming everyone: readers show an entry's last author only.
    assert first.author == "Ada Lovelace, Erwin Schrödinger, Zed Zero"
    assert [t.term for t in first.tags] == ["stat.ML", "cs.LG"]
    assert first.summary == "We show $a < b$ & <b>bold</b> claims.\n\nSecond paragraph."
    assert first.summary_detail.type == "text/plain"
    assert first.updated == "2026-06-19T09:30:00Z"
    assert first.published == "2026-06-18T17:59:01Z"
    assert second.id == "urn:arxiv:hep-th/9901001"
    assert "authors" not in second  # no authors: the feed-level author stands in
    assert parsed.feed.authors == [{"name": "paperfeed"}]
    assert third.id == "https://hub.example.org/papers/id/3"
    assert [link.href for link in third.links] == ["https://hub.example.org/papers/id/3"]
    assert parsed.feed.updated == "2026-06-19T12:00:00Z"  # the id-less paper, first seen


def test_rss_reads_back_with_feedparser() -> None:
    parsed = feedparser.parse(rss())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    assert parsed.feed.title == META.title
    assert parsed.feed.link == META.page_url
    first, second, third = parsed.entries
    assert first.title == CLEAN_TITLE
    assert first.id == "urn:arxiv:2606.13677"
    assert first.guidislink is False
    assert first.link == "https://hub.example.org/papers/2606.13677"
    assert {link.href for link in first.links if link.get("rel") == "related"} == {
        "https://arxiv.org/abs/2606.13677",
        "https://arxiv.org/pdf/2606.13677",
    }
    # One author element naming everyone: readers show an entry's last author only.
    assert first.author == "Ada Lovelace, Erwin Schrödinger, Zed Zero"
    assert [t.term for t in first.tags] == ["stat.ML", "cs.LG"]
    # The description is HTML by convention: the abstract arrives as escaped text.
    assert html.unescape(first.summary) == (
        "We show $a < b$ & <b>bold</b> claims.\n\nSecond paragraph."
    )
    assert "<b>" not in first.summary
    assert first.published_parsed[:6] == (2026, 6, 19, 9, 30, 0)
    assert second.id == "urn:arxiv:hep-th/9901001"
    assert "author" not in second
    assert third.id == "https://hub.example.org/papers/id/3"
    assert third.link == "https://hub.example.org/papers/id/3"


def test_atom_has_rfc4287_required_elements() -> None:
    feed = ET.fromstring(atom())
    assert feed.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert (feed.findtext(f"{A}{name}") or "").strip(), name
    assert RFC3339.match(feed.findtext(f"{A}updated") or "")
    self_links = [link for link in feed.findall(f"{A}link") if link.get("rel") == "self"]
    assert [link.get("href") for link in self_links] == [META.self_url]
    feed_has_author = feed.find(f"{A}author/{A}name") is not None
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 3
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert entry.find(f"{A}{name}") is not None, name
        for name in ("updated", "published"):
            stamp = entry.findtext(f"{A}{name}") or ""
            assert RFC3339.match(stamp), stamp
            datetime.fromisoformat(stamp)
        assert feed_has_author or entry.find(f"{A}author/{A}name") is not None
        alternates = [link for link in entry.findall(f"{A}link") if link.get("rel") == "alternate"]
        assert len(alternates) == 1
        assert entry.findtext(f"{A}title") == entry.findtext(f"{A}title", "").strip()
    assert feed_has_author


def test_rss_has_rss2_required_elements() -> None:
    root = ET.fromstring(rss())
    assert root.tag == "rss"
    assert root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):
        assert (channel.findtext(name) or "").strip(), name
    parsedate_to_datetime(channel.findtext("lastBuildDate") or "")
    items = channel.findall("item")
    assert len(items) == 3
    for item in items:
        assert item.findtext("title") or item.findtext("description")
        guid = item.find("guid")
        assert guid is not None
        assert guid.get("isPermaLink") == "false"
        assert (guid.text or "").strip()
        when = parsedate_to_datetime(item.findtext("pubDate") or "")
        assert when.tzinfo is not None
    creators = [c.text for c in items[0].findall(f"{DC}creator")]
    assert creators == ["Ada Lovelace, Erwin Schrödinger, Zed Zero"]
    assert items[1].findall(f"{DC}creator") == []


@pytest.mark.parametrize("render", [atom, rss])
def test_hostile_text_is_escaped_and_stripped(render: Callable[[], bytes]) -> None:
    body = render()
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert "Schrödinger".encode() in body
    assert b"<script" not in body
    assert b"<b>" not in body
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", body)
    assert b"javascript:" not in body
    assert feedparser.parse(body).bozo == 0


def test_lone_surrogates_and_nonchars_are_dropped() -> None:
    bad = stored(9, Paper(title="x\ud800y\ufffez", abstract="ok\uffff", authors=("a\udfffb",)))
    for body in (atom([bad]), rss([bad])):
        text = body.decode("utf-8")
        assert "xyz" in text
        assert "ab" in text
        ET.fromstring(body)


def test_empty_list_gives_valid_feeds() -> None:
    for body, version in ((atom([]), "atom10"), (rss([]), "rss20")):
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0
        assert parsed.version == version
        assert parsed.entries == []
    feed = ET.fromstring(atom([]))
    assert feed.findtext(f"{A}updated") == "2026-06-20T12:00:00Z"
    assert feed.find(f"{A}author/{A}name") is not None
    channel = ET.fromstring(rss([])).find("channel")
    assert channel is not None
    assert channel.findtext("lastBuildDate") == "Sat, 20 Jun 2026 12:00:00 GMT"


def test_meta_updated_overrides_entry_times() -> None:
    pinned = replace(META, updated=datetime(2026, 6, 20, 8, 0, 0, 123456, tzinfo=UTC))
    feed = ET.fromstring(render_atom(pinned, papers(), base_url=BASE, now=NOW))
    assert feed.findtext(f"{A}updated") == "2026-06-20T08:00:00Z"
    assert feed.findtext(f"{A}subtitle") == META.subtitle


def test_etag_changes_only_when_an_entry_changes() -> None:
    items = papers()
    tag = feed_etag("atom", items)
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert feed_etag("atom", papers()) == tag
    touched = [*items[:1], replace(items[1], changed_at=NOW + timedelta(seconds=1)), items[2]]
    assert feed_etag("atom", touched) != tag
    assert feed_etag("rss", items) != tag
    assert feed_etag("atom", items, extra="2026-06-20") != tag
    assert feed_etag("atom", items[:2]) != tag
    assert feed_etag("atom", list(reversed(items))) != tag
    assert feed_etag("atom", []) == feed_etag("atom", [])


def test_last_modified_is_newest_change_in_whole_seconds() -> None:
    items = papers()
    later = NOW + timedelta(hours=1, microseconds=999_999)
    items[1] = replace(items[1], changed_at=later)
    assert last_modified(items, NOW) == NOW + timedelta(hours=1)
    assert last_modified([], NOW + timedelta(microseconds=5)) == NOW


ETAG = '"abc123"'
MODIFIED = datetime(2026, 6, 20, 12, 0, 0, tzinfo=UTC)
HTTP_DATE = "Sat, 20 Jun 2026 12:00:00 GMT"


@pytest.mark.parametrize(
    ("inm", "ims", "expected"),
    [
        ('"abc123"', None, True),
        ('"nope", "abc123"', None, True),
        ('"nope" ,  W/"abc123" ,"other"', None, True),
        ('W/"abc123"', None, True),
        ("*", None, True),
        ('"nope"', None, False),
        ('"abc1234"', None, False),
        ('"nope"', HTTP_DATE, False),
        ('"a,b", "abc123"', None, True),
        (None, HTTP_DATE, True),
        (None, "Sat, 20 Jun 2026 13:00:00 GMT", True),
        (None, "Sat, 20 Jun 2026 11:59:59 GMT", False),
        (None, "Saturday, 20-Jun-26 12:00:00 GMT", True),
        (None, "Sat Jun 20 12:00:00 2026", True),
        (None, "garbage", False),
        (None, "Sat, 20 Jun 2026 25:00:00 GMT", False),
        (None, "", False),
        (None, None, False),
        ("", HTTP_DATE, True),
    ],
)
def test_not_modified(inm: str | None, ims: str | None, expected: bool) -> None:
    assert not_modified(inm, ims, ETAG, MODIFIED) is expected


def test_not_modified_with_real_validators() -> None:
    items = papers()
    tag = feed_etag("rss", items)
    modified = last_modified(items, NOW)
    http_date = modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert not_modified(tag, None, tag, modified)
    assert not_modified(None, http_date, tag, modified)
    newer = [replace(items[0], changed_at=NOW + timedelta(minutes=5)), *items[1:]]
    assert not not_modified(tag, None, feed_etag("rss", newer), last_modified(newer, NOW))
    assert not not_modified(None, http_date, tag, last_modified(newer, NOW))
