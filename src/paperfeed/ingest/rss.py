"""arXiv's daily announcement listing (``rss.arxiv.org/atom/cs.LG+cs.CV``, Atom).

Each entry is announced as ``new``, ``cross`` (a cross-list), ``replace`` or
``replace-cross`` (a new version). With ``feature`` on, new and cross-listed
papers get ``featured_on`` = the announcement day in the hub's zone, which puts
them on that day's list; replacements are not featured (they were featured when
first announced).

The announcement time is the entry's ``<published>`` (midnight US Eastern on
the announcement day; the feed's ``<updated>`` when an entry has none). It is
not a submission time, so it becomes ``published_at`` only for a first version
(``v1``); every paper gets it as ``updated_at``.

The announce type of each paper is exposed on :attr:`RssSource.announce_types`
(arXiv id → type) after :meth:`RssSource.records` has read the feed, and by
the pure :func:`parse_listing` as :attr:`Announcement.announce_type`. The feed
lists each paper's primary category first. The job is one short request, so
there is no cursor: an interrupted run is simply rerun.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.ingest.arxiv_api import arxiv_fetcher
from paperfeed.ingest.atom import (
    ARXIV_ATOM,
    ATOM,
    DC,
    check_categories,
    child_text,
    clean,
    ordered_categories,
    parse_timestamp,
    parse_xml,
    q,
    split_authors,
)
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper, Parsed, Rejection, split_arxiv_id

SOURCE_NAME = "rss"
#: Announce types that put a paper on the day's list.
FEATURED_TYPES = frozenset({"new", "cross"})
_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?")


@dataclass(frozen=True, slots=True)
class Announcement:
    """One listing entry: the paper (or why it was rejected) and how it was announced."""

    item: Paper | Rejection
    announce_type: str | None


def parse_listing(
    data: bytes, *, zone: ZoneInfo | str = "America/New_York", feature: bool = True
) -> list[Announcement]:
    """Parse one arXiv RSS/Atom listing; positions count entries from 1."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    root = parse_xml(data, "arXiv RSS listing")
    if root.tag != q(ATOM, "feed"):
        raise SourceError(
            f"arXiv RSS listing is not an Atom feed (root <{root.tag}>); "
            "use the rss.arxiv.org/atom/ URL"
        )
    fallback = child_text(root, q(ATOM, "updated"))
    return [
        _entry(entry, index + 1, fallback, tz, feature)
        for index, entry in enumerate(root.findall(q(ATOM, "entry")))
    ]


def _entry(
    entry: Element, position: int, fallback: str | None, zone: ZoneInfo, feature: bool
) -> Announcement:
    raw_id = child_text(entry, q(ATOM, "id"))
    summary = child_text(entry, q(ATOM, "summary")) or ""
    prefix = _PREFIX.match(summary)
    announce_type = child_text(entry, q(ARXIV_ATOM, "announce_type")) or (
        prefix.group("type") if prefix else None
    )
    if raw_id is None:
        return Announcement(Rejection(position, "entry has no <id>"), announce_type)
    try:
        arxiv_id, version = split_arxiv_id(raw_id)
    except ValueError:
        reason = f"entry id is not an arXiv id: {raw_id[:80]!r}"
        return Announcement(Rejection(position, reason, raw_id[:80]), announce_type)
    title = clean(child_text(entry, q(ATOM, "title")))
    if title is None:
        return Announcement(Rejection(position, "entry has no title", arxiv_id), announce_type)
    stamp = child_text(entry, q(ATOM, "published")) or fallback
    try:
        announced = parse_timestamp(stamp) if stamp else None
    except ValueError as exc:
        reason = f"bad announcement date {stamp!r}: {exc}"
        return Announcement(Rejection(position, reason, arxiv_id), announce_type)
    featured = feature and announce_type in FEATURED_TYPES and announced is not None
    categories = [c.get("term", "") for c in entry.findall(q(ATOM, "category"))]
    abs_url = next(
        (
            link.get("href")
            for link in entry.findall(q(ATOM, "link"))
            if link.get("rel", "alternate") == "alternate"
        ),
        None,
    )
    paper = Paper(
        title=title,
        abstract=clean(summary[prefix.end() :] if prefix else summary) or "",
        arxiv_id=arxiv_id,
        version=version,
        authors=split_authors(child_text(entry, q(DC, "creator")) or ""),
        categories=ordered_categories(None, categories),
        primary_category=categories[0] if categories else None,
        published_at=announced if version == 1 else None,
        updated_at=announced,
        abs_url=abs_url,
        license=child_text(entry, q(DC, "rights")),
        featured_on=_day_in(announced, zone) if featured and announced else None,
        source=SOURCE_NAME,
    )
    return Announcement(paper.with_arxiv_links(), announce_type)


def _day_in(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


class RssSource:
    """Today's announcements for some categories, as one short job (no checkpoint)."""

    name = SOURCE_NAME

    def __init__(
        self,
        categories: str | Sequence[str],
        fetcher: Fetcher,
        base_url: str,
        feature: bool = True,
        *,
        zone: ZoneInfo | str = "America/New_York",
    ) -> None:
        self.categories = check_categories(categories)
        self.fetcher = fetcher
        self.base_url = base_url
        self.feature = feature
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        #: arXiv id → announce type of each paper read by the last :meth:`records`.
        self.announce_types: dict[str, str] = {}
        self._total: int | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        categories: str | Sequence[str],
        *,
        feature: bool = True,
        clock: Clock | None = None,
    ) -> RssSource:
        """A source on the configured listing URL, counting days in the hub's zone."""
        return cls(
            categories,
            arxiv_fetcher(settings, clock),
            settings.arxiv_rss_url,
            feature,
            zone=settings.zone,
        )

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{'+'.join(self.categories)}"

    @property
    def checkpoint_key(self) -> None:
        return None

    @property
    def total(self) -> int | None:
        return self._total

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Fetch the listing and yield its entries; ``cursor`` is ignored (no checkpoint).
        The fetcher's connection is closed once the listing is read (:meth:`Fetcher.close`)."""
        try:
            response = self.fetcher.get(self.url)
        finally:
            self.fetcher.close()
        if response.status_code != 200:
            raise SourceError(f"arXiv RSS answered HTTP {response.status_code} for {self.url}")
        listing = parse_listing(response.content, zone=self.zone, feature=self.feature)
        self._total = len(listing)
        self.announce_types = {
            a.item.arxiv_id: a.announce_type
            for a in listing
            if isinstance(a.item, Paper) and a.item.arxiv_id and a.announce_type
        }
        for index, announcement in enumerate(listing):
            yield Parsed(announcement.item, index + 1, None)
