"""Atom 1.0 (RFC 4287) and RSS 2.0 feeds of paper lists, plus HTTP validators for them.

Pure rendering: callers pass the papers (from the same query function the HTML
page uses), the hub's base URL and ``now``; the web layer wires the routes and
the conditional-request headers.

Every string that reaches the XML goes through :func:`_clean`, which drops the
characters XML 1.0 forbids, and then through ElementTree, which escapes the
rest, so a hostile title cannot break the document or inject markup. RSS readers take
every ``<description>`` (the channel's too) as HTML, so those are HTML-escaped first.

An entry names all its authors in one ``author`` (Atom) / ``dc:creator`` (RSS), comma
separated: feedparser, and the readers built on it (``reader``, most desktop ones), show
one author per entry, the last element given, so one element per author lost all but
the last.

A list made by a member (a collection) passes :class:`Added` per paper: its entries then
carry when the paper was added, and the member's note, and the validators move when a
paper is added or removed (:func:`last_modified`'s ``floor``).
"""

from __future__ import annotations

import hashlib
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote, urlsplit

from paperfeed.models import StoredPaper

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"

#: Everything outside XML 1.0's ``Char`` production: C0 controls other than tab, LF
#: and CR, lone surrogates, U+FFFE and U+FFFF.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ETAG_TOKEN = re.compile(r'(?:W/)?"[^"]*"|[^,\s]+')


@dataclass(frozen=True)
class FeedMeta:
    """What describes a feed as a whole (the entries come separately).

    ``feed_id`` must stay stable for the life of the feed (a ``tag:`` IRI or
    the self URL); ``updated`` defaults to the newest entry's time, or ``now``
    for an empty feed. ``author`` names the feed's compiler; Atom requires one
    at feed level whenever an entry has no author of its own.
    """

    title: str
    self_url: str
    page_url: str
    feed_id: str
    subtitle: str | None = None
    updated: datetime | None = None
    author: str = "paperfeed"


@dataclass(frozen=True)
class Added:
    """A paper's place in a member's list: when it was added, by whom, with what note."""

    at: datetime
    by: str
    note: str = ""


def _summary(abstract: str, added: Added | None) -> str:
    """The entry's text: the member's note first (a collection), then the abstract."""
    if added is None or not added.note.strip():
        return abstract
    note = f"Note from {added.by}: {added.note.strip()}"
    return f"{note}\n\n{abstract}" if abstract else note


def authors_line(authors: Sequence[str]) -> str:
    """All the authors in one line, as readers show them."""
    return ", ".join(name.strip() for name in authors if name.strip())


def paper_url(base_url: str, stored: StoredPaper) -> str:
    """The paper's page on the hub: ``/papers/<arxiv id>``, or ``/papers/id/<id>`` without one."""
    base = base_url.rstrip("/")
    arxiv_id = stored.paper.arxiv_id
    if arxiv_id:
        return f"{base}/papers/{quote(arxiv_id, safe='/')}"
    return f"{base}/papers/id/{stored.id}"


def entry_id(base_url: str, stored: StoredPaper) -> str:
    """A permanent id for the entry: ``urn:arxiv:<id>`` for arXiv papers, else the hub URL.

    The arXiv id survives hub moves and is shared with other hubs, so a reader
    following two of them can de-duplicate; an id-less paper has only the hub.
    """
    arxiv_id = stored.paper.arxiv_id
    return f"urn:arxiv:{arxiv_id}" if arxiv_id else paper_url(base_url, stored)


def entry_updated(stored: StoredPaper) -> datetime:
    """The time an entry's ``<updated>`` / ``<pubDate>`` shows.

    The paper's own dates (the later of arXiv's last-version and first-version
    dates), else the time the hub first saw it. Deliberately *not*
    ``changed_at``: that moves on hub bookkeeping (imported upvotes, a re-ingest)
    which a reader should not be told is a new revision of the paper.
    """
    paper = stored.paper
    known = [_utc(d) for d in (paper.updated_at, paper.published_at) if d is not None]
    return max(known) if known else _utc(stored.first_seen_at)


def feed_etag(
    kind: str,
    papers: Sequence[StoredPaper],
    extra: str = "",
    added: Mapping[int, Added] | None = None,
) -> str:
    """A strong, quoted ETag for one rendering of ``papers``.

    Built from ``kind`` (``"atom"``/``"rss"``), ``extra`` (whatever else shapes
    the output: the day, the query, the base URL) and each entry's id and
    ``changed_at`` in order, so it changes when any entry changes, joins,
    leaves or moves, and not otherwise.
    """
    digest = hashlib.sha256(f"{kind}\x1f{extra}".encode())
    for stored in papers:
        digest.update(f"\x1e{stored.id}\x1f{_utc(stored.changed_at).isoformat()}".encode())
        if added is not None and stored.id in added:
            entry = added[stored.id]
            digest.update(f"\x1f{_utc(entry.at).isoformat()}\x1f{entry.note}".encode())
    return f'"{digest.hexdigest()[:32]}"'


def last_modified(
    papers: Sequence[StoredPaper],
    now: datetime,
    *,
    added: Mapping[int, Added] | None = None,
    floor: datetime | None = None,
) -> datetime:
    """``Last-Modified`` for the list: the newest ``changed_at`` or time a paper was
    ``added`` (``now`` when empty), never before ``floor`` (when the list itself last
    changed: a paper taken out), in UTC.

    Truncated to whole seconds because HTTP dates carry no fractions; otherwise
    an ``If-Modified-Since`` echoed back would always look older.
    """
    times = [_utc(s.changed_at) for s in papers]
    times += [_utc(a.at) for a in (added or {}).values()]
    if floor is not None:
        times.append(_utc(floor))
    newest = max(times, default=_utc(now))
    return newest.replace(microsecond=0)


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, modified: datetime
) -> bool:
    """Whether a GET may be answered ``304 Not Modified`` (RFC 9110 §13.1.2, §13.1.3).

    ``If-None-Match`` wins when present: ``*`` or any listed tag equal to
    ``etag`` under weak comparison (``W/`` ignored). Otherwise ``If-Modified-Since``
    counts when it parses (IMF-fixdate, RFC 850 or asctime); a malformed date is
    ignored, as the RFC requires, and the response is sent in full.
    """
    if if_none_match is not None and if_none_match.strip():
        ours = _opaque(etag)
        for candidate in _ETAG_TOKEN.findall(if_none_match):
            if candidate == "*" or _opaque(candidate) == ours:
                return True
        return False
    if not if_modified_since:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return _utc(modified).replace(microsecond=0) <= _utc(since)


def render_atom(
    meta: FeedMeta,
    papers: Sequence[StoredPaper],
    *,
    base_url: str,
    now: datetime,
    added: Mapping[int, Added] | None = None,
) -> bytes:
    """An Atom 1.0 document (UTF-8, with an XML declaration) listing ``papers`` in order.

    Each entry links to the hub page (``alternate``) and to the arXiv abstract
    and PDF (``related``); the abstract is the ``text`` summary.
    """
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(feed, "id", meta.feed_id)
    _sub(feed, "title", meta.title, type="text")
    if meta.subtitle:
        _sub(feed, "subtitle", meta.subtitle, type="text")
    _sub(feed, "updated", _rfc3339(_feed_updated(meta, papers, now, added)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=meta.self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=meta.page_url)
    _sub(_sub(feed, "author"), "name", meta.author)
    _sub(feed, "generator", "paperfeed")
    for stored in papers:
        paper = stored.paper.with_arxiv_links()
        put = (added or {}).get(stored.id)
        entry = _sub(feed, "entry")
        _sub(entry, "id", entry_id(base_url, stored))
        _sub(entry, "title", _one_line(paper.title), type="text")
        _sub(entry, "updated", _rfc3339(put.at if put else entry_updated(stored)))
        _sub(entry, "published", _rfc3339(put.at if put else _published(stored)))
        href = paper_url(base_url, stored)
        _sub(entry, "link", rel="alternate", type="text/html", href=href)
        for title, mime, url in _related(paper.abs_url, paper.pdf_url):
            _sub(entry, "link", rel="related", type=mime, title=title, href=url)
        if authors_line(paper.authors):
            _sub(_sub(entry, "author"), "name", authors_line(paper.authors))
        for term in _categories(stored):
            _sub(entry, "category", term=term)
        summary = _summary(paper.abstract, put)
        if summary:
            _sub(entry, "summary", summary, type="text")
    return _serialise(feed)


def render_rss(
    meta: FeedMeta,
    papers: Sequence[StoredPaper],
    *,
    base_url: str,
    now: datetime,
    added: Mapping[int, Added] | None = None,
) -> bytes:
    """An RSS 2.0 document (UTF-8, with an XML declaration) listing ``papers`` in order.

    RSS readers treat ``<description>`` as HTML, so the plain-text abstract is
    HTML-escaped before the XML escaping; titles are plain text, as the spec
    says. Authors are ``dc:creator``; arXiv links ride as ``atom:link rel=related``.
    """
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS, "xmlns:dc": DC_NS})
    channel = _sub(rss, "channel")
    _sub(channel, "title", meta.title)
    _sub(channel, "link", meta.page_url)
    _sub(channel, "description", html.escape(_clean(meta.subtitle or meta.title), quote=False))
    _sub(channel, "atom:link", rel="self", type="application/rss+xml", href=meta.self_url)
    _sub(channel, "lastBuildDate", _rfc822(_feed_updated(meta, papers, now, added)))
    _sub(channel, "generator", "paperfeed")
    for stored in papers:
        paper = stored.paper.with_arxiv_links()
        put = (added or {}).get(stored.id)
        item = _sub(channel, "item")
        _sub(item, "title", _one_line(paper.title))
        _sub(item, "link", paper_url(base_url, stored))
        summary = _summary(paper.abstract, put)
        if summary:
            _sub(item, "description", html.escape(_clean(summary), quote=False))
        if authors_line(paper.authors):
            _sub(item, "dc:creator", authors_line(paper.authors))
        for term in _categories(stored):
            _sub(item, "category", term)
        _sub(item, "guid", entry_id(base_url, stored), isPermaLink="false")
        _sub(item, "pubDate", _rfc822(put.at if put else entry_updated(stored)))
        for title, mime, url in _related(paper.abs_url, paper.pdf_url):
            _sub(item, "atom:link", rel="related", type=mime, title=title, href=url)
    return _serialise(rss)


def _sub(parent: ET.Element, tag: str, text: str | None = None, /, **attrs: str) -> ET.Element:
    """Append a child whose text and attributes have been made XML 1.0-safe."""
    child = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        child.text = _clean(text)
    return child


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (escaping cannot save them)."""
    return _INVALID_XML.sub("", text)


def _one_line(text: str) -> str:
    """Titles arrive hard-wrapped from arXiv; a feed title is one line."""
    return " ".join(_clean(text).split())


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _related(abs_url: str | None, pdf_url: str | None) -> list[tuple[str, str, str]]:
    """(title, media type, URL) of the arXiv links; only http(s), so no ``javascript:``."""
    links = [("arXiv abstract", "text/html", abs_url), ("PDF", "application/pdf", pdf_url)]
    return [
        (title, mime, url)
        for title, mime, url in links
        if url and urlsplit(url).scheme.lower() in ("http", "https")
    ]


def _categories(stored: StoredPaper) -> list[str]:
    """The primary category first, then the rest, without repeats."""
    paper = stored.paper
    first = (paper.primary_category,) if paper.primary_category else ()
    return [c for c in dict.fromkeys(first + paper.categories) if c.strip()]


def _published(stored: StoredPaper) -> datetime:
    """First publication: arXiv's v1 date, else when the hub first saw the paper.

    Never later than :func:`entry_updated`, which readers expect of Atom entries.
    """
    first = _utc(stored.paper.published_at or stored.first_seen_at)
    return min(first, entry_updated(stored))


def _feed_updated(
    meta: FeedMeta,
    papers: Sequence[StoredPaper],
    now: datetime,
    added: Mapping[int, Added] | None = None,
) -> datetime:
    if meta.updated is not None:
        return _utc(meta.updated)
    times = [_utc(added[s.id].at) if added and s.id in added else entry_updated(s) for s in papers]
    return max(times, default=_utc(now))


def _utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already (the store's convention)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    return _utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(value: datetime) -> str:
    return format_datetime(_utc(value).replace(microsecond=0), usegmt=True)


def _opaque(tag: str) -> str:
    """An entity tag's opaque part, for weak comparison: no ``W/``, no quotes."""
    tag = tag.strip()
    tag = tag.removeprefix("W/")
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        return tag[1:-1]
    return tag


__all__ = [
    "Added",
    "FeedMeta",
    "authors_line",
    "entry_id",
    "entry_updated",
    "feed_etag",
    "last_modified",
    "not_modified",
    "paper_url",
    "render_atom",
    "render_rss",
]
