"""The arXiv API (``export.arxiv.org/api/query``, Atom): one date window of categories.

:class:`ArxivApiSource` asks for ``cat:A OR cat:B`` within a submitted-date
window, oldest first, one page of ``page_size`` results per request, every
request through one paced :class:`~paperfeed.ingest.http.Fetcher` (arXiv asks
for 3 s between requests on a single connection).

The cursor is the decimal offset of the next unread result (after the last
record of a page it is the ``start`` of the next page), so a resumed run
starts exactly where the committed records end and refetches no earlier page.
Note that the API serves at most 30,000 results per query: split long windows.

:func:`parse_feed` is the pure parser, also used by :func:`fetch_by_ids` (the
"submit a paper by id" feature). The API gives only each paper's latest
version, so a paper's ``versions`` holds that one version, dated ``updated``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from xml.etree.ElementTree import Element

from paperfeed.clock import Clock, SystemClock
from paperfeed.config import Settings
from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.atom import (
    ARXIV_ATOM,
    ATOM,
    OPENSEARCH,
    check_categories,
    child_text,
    clean,
    ordered_categories,
    parse_timestamp,
    parse_xml,
    q,
)
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper, Parsed, Rejection, Version, split_arxiv_id

SOURCE_NAME = "arxiv-api"
#: The most results arXiv serves in one response.
MAX_PAGE_SIZE = 2000
#: The most ids :func:`fetch_by_ids` puts in one request (keeps the URL short).
IDS_PER_REQUEST = 100
_ERROR_ID = "arxiv.org/api/errors"


class ArxivApiError(SourceError):
    """arXiv answered with its error feed (a bad query or id); the message is arXiv's."""


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One parsed API response: its entries and the paging numbers arXiv sent."""

    items: list[Paper | Rejection]
    total: int | None
    start: int | None


def arxiv_fetcher(settings: Settings, clock: Clock | None = None) -> Fetcher:
    """The one paced fetcher every arXiv source of a run should share."""
    return Fetcher(
        min_interval=settings.arxiv_delay_seconds,
        retries=settings.http_retries,
        backoff=settings.http_backoff_seconds,
        timeout=settings.http_timeout_seconds,
        clock=clock or SystemClock(),
    )


def parse_feed(data: bytes, *, offset: int = 0) -> FeedPage:
    """Parse one arXiv API Atom response into papers and rejections.

    ``offset`` is the 0-based index of the first entry in the whole result
    list, so rejections carry their 1-based place in it. arXiv's error feed
    (an entry whose id is ``.../api/errors#...``) raises :class:`SourceError`
    with arXiv's message.
    """
    root = parse_xml(data, "arXiv API response")
    if root.tag != q(ATOM, "feed"):
        raise SourceError(f"arXiv API response is not an Atom feed (root <{root.tag}>)")
    entries = root.findall(q(ATOM, "entry"))
    for entry in entries:
        if _ERROR_ID in (child_text(entry, q(ATOM, "id")) or ""):
            message = child_text(entry, q(ATOM, "summary")) or "unspecified error"
            raise ArxivApiError(f"arXiv API error: {message}")
    items = [_entry(entry, offset + index + 1) for index, entry in enumerate(entries)]
    return FeedPage(
        items=items,
        total=_int_or_none(child_text(root, q(OPENSEARCH, "totalResults"))),
        start=_int_or_none(child_text(root, q(OPENSEARCH, "startIndex"))),
    )


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _entry(entry: Element, position: int) -> Paper | Rejection:
    raw_id = child_text(entry, q(ATOM, "id"))
    if raw_id is None:
        return Rejection(position, "entry has no <id>")
    try:
        arxiv_id, version = split_arxiv_id(raw_id)
    except ValueError:
        return Rejection(position, f"entry id is not an arXiv id: {raw_id[:80]!r}", raw_id[:80])
    title = clean(child_text(entry, q(ATOM, "title")))
    if title is None:
        return Rejection(position, "entry has no title", arxiv_id)
    dates: dict[str, datetime | None] = {}
    for name in ("published", "updated"):
        value = child_text(entry, q(ATOM, name))
        try:
            dates[name] = parse_timestamp(value) if value else None
        except ValueError as exc:
            return Rejection(position, f"bad <{name}> date {value!r}: {exc}", arxiv_id)
    published, updated = dates["published"], dates["updated"]
    latest = updated or published
    primary = entry.find(q(ARXIV_ATOM, "primary_category"))
    primary_term = primary.get("term") if primary is not None else None
    abs_url, pdf_url, license_url = _links(entry)
    return Paper(
        title=title,
        abstract=clean(child_text(entry, q(ATOM, "summary"))) or "",
        arxiv_id=arxiv_id,
        version=version,
        versions=(Version(version, latest),) if version is not None else (),
        doi=child_text(entry, q(ARXIV_ATOM, "doi")),
        authors=tuple(
            author_name
            for author in entry.findall(q(ATOM, "author"))
            if (author_name := clean(child_text(author, q(ATOM, "name"))))
        ),
        categories=ordered_categories(
            primary_term, (c.get("term", "") for c in entry.findall(q(ATOM, "category")))
        ),
        primary_category=primary_term,
        published_at=published,
        updated_at=latest,
        abs_url=abs_url,
        pdf_url=pdf_url,
        license=child_text(entry, q(ARXIV_ATOM, "license")) or license_url,
        comments=clean(child_text(entry, q(ARXIV_ATOM, "comment"))),
        journal_ref=clean(child_text(entry, q(ARXIV_ATOM, "journal_ref"))),
        source=SOURCE_NAME,
    )


def _links(entry: Element) -> tuple[str | None, str | None, str | None]:
    """The abstract page, PDF and licence links of an entry."""
    abs_url = pdf_url = license_url = None
    for link in entry.findall(q(ATOM, "link")):
        href, rel = link.get("href"), link.get("rel", "alternate")
        if not href:
            continue
        if rel == "alternate" and abs_url is None:
            abs_url = href
        elif (link.get("title") == "pdf" or link.get("type") == "application/pdf") and not pdf_url:
            pdf_url = href
        elif rel == "license" and license_url is None:
            license_url = href
    return abs_url, pdf_url, license_url


def _window_bound(value: date | datetime, *, end: bool) -> str:
    """``YYYYMMDDHHMM`` in UTC (arXiv's dates are GMT); a plain date covers the whole day.

    A naive datetime is taken as UTC.
    """
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
    else:
        moment = datetime.combine(value, time(23, 59) if end else time(0, 0))
    return moment.strftime("%Y%m%d%H%M")


def build_query(
    categories: Sequence[str], since: date | datetime | None, until: date | datetime | None
) -> str:
    """The ``search_query`` for these categories and submitted-date window."""
    cats = " OR ".join(f"cat:{c}" for c in categories)
    query = f"({cats})" if len(categories) > 1 else cats
    if since is not None or until is not None:
        low = _window_bound(since, end=False) if since is not None else "199101010000"
        high = _window_bound(until, end=True) if until is not None else "299912312359"
        query += f" AND submittedDate:[{low} TO {high}]"
    return query


class ArxivApiSource:
    """Every paper of some categories submitted within a date window, oldest first.

    Implements :class:`~paperfeed.ingest.source.Source`; see the module docstring
    for the cursor. ``total`` is arXiv's ``opensearch:totalResults``, known once
    the first page has arrived.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        categories: str | Sequence[str],
        fetcher: Fetcher,
        base_url: str,
        *,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        page_size: int = 1000,
        empty_page_retries: int = 2,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"page_size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        low = _window_bound(since, end=False) if since is not None else None
        high = _window_bound(until, end=True) if until is not None else None
        if low is not None and high is not None and low > high:
            raise InvalidInputError(f"empty date window: since {since} is after until {until}")
        self.categories = check_categories(categories)
        self.fetcher = fetcher
        self.base_url = base_url
        self.page_size = page_size
        self.empty_page_retries = empty_page_retries
        self.query = build_query(self.categories, since, until)
        self._total: int | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        categories: str | Sequence[str],
        *,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        clock: Clock | None = None,
    ) -> ArxivApiSource:
        """A source using the configured URL, page size and a paced fetcher of its own.

        Sources that run one after the other against arXiv should rather share
        one :func:`arxiv_fetcher`, so the pacing holds across them.
        """
        return cls(
            categories,
            arxiv_fetcher(settings, clock),
            settings.arxiv_api_url,
            since=since,
            until=until,
            page_size=settings.arxiv_page_size,
        )

    @property
    def checkpoint_key(self) -> str:
        return f"{SOURCE_NAME}:{self.query}"

    @property
    def total(self) -> int | None:
        return self._total

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Yield every result from offset ``cursor`` (0 when ``None``) to the end; the
        fetcher's connection is closed at the end (:meth:`Fetcher.close`)."""
        try:
            yield from self._records(_parse_cursor(cursor))
        finally:
            self.fetcher.close()

    def _records(self, start: int) -> Iterator[Parsed]:
        previous: tuple[str, ...] | None = None
        while True:
            page = self._page(start)
            if not page.items:
                return
            previous = _check_not_repeated(page, start, previous)
            for index, item in enumerate(page.items):
                yield Parsed(item, start + index + 1, str(start + index + 1))
            start += len(page.items)
            if self._total is not None and start >= self._total:
                return

    def _page(self, start: int) -> FeedPage:
        """Fetch the page at ``start``; retry arXiv's spurious empty pages, then give up loudly."""
        for _attempt in range(self.empty_page_retries + 1):
            page = _get_feed(
                self.fetcher,
                self.base_url,
                {
                    "search_query": self.query,
                    "start": start,
                    "max_results": self.page_size,
                    "sortBy": "submittedDate",
                    "sortOrder": "ascending",
                },
                offset=start,
            )
            if page.total is not None:
                self._total = page.total
            if page.items or self._total is None or start >= self._total:
                return page
        hint = " (the API serves at most 30,000 results per query)" if start >= 30000 else ""
        raise SourceError(
            f"arXiv API returned no entries at start={start} of {self._total} after "
            f"{self.empty_page_retries + 1} attempts{hint}; rerun to resume from there"
        )


def _check_not_repeated(
    page: FeedPage, start: int, previous: tuple[str, ...] | None
) -> tuple[str, ...]:
    """The page's entry ids; a :class:`SourceError` when the API answered another offset
    than asked, or the same entries as the page before (an upstream stuck on one page
    would otherwise be paged through, silently, to its ``totalResults``)."""
    ids = tuple(
        item.arxiv_id or "" if isinstance(item, Paper) else str(item) for item in page.items
    )
    if page.start is not None and page.start != start:
        what = f"the page at start={page.start} when asked for start={start}"
    elif ids == previous:
        what = f"the same page again for start={start}"
    else:
        return ids
    raise SourceError(
        f"arXiv API sent {what}: stopped so as not to loop over one page; "
        f"rerun later to resume from record {start}"
    )


def _parse_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise InvalidInputError(f"bad {SOURCE_NAME} cursor {cursor!r}: expected an offset")
    return int(cursor)


def _get_feed(
    fetcher: Fetcher, base_url: str, params: dict[str, str | int], *, offset: int
) -> FeedPage:
    response = fetcher.get(base_url, params=params)
    if response.status_code != 200:
        # arXiv sends its error feed with HTTP 400; parse_feed raises with its message.
        try:
            parse_feed(response.content, offset=offset)
        except ArxivApiError:
            raise
        except SourceError:
            pass
        raise SourceError(f"arXiv API answered HTTP {response.status_code} for {response.url}")
    return parse_feed(response.content, offset=offset)


def fetch_by_ids(fetcher: Fetcher, base_url: str, ids: Sequence[str]) -> list[Paper]:
    """The papers with these arXiv ids (``2606.13677`` or ``2606.13677v2``), via ``id_list``.

    Ids arXiv does not know are simply absent from the result. A malformed id
    raises :class:`InvalidInputError`; an entry arXiv sends that cannot be read
    raises :class:`SourceError` with the reason.
    """
    wanted: list[str] = []
    for raw in ids:
        try:
            base, version = split_arxiv_id(raw)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
        ident = f"{base}v{version}" if version is not None else base
        if ident not in wanted:
            wanted.append(ident)
    papers: list[Paper] = []
    for first in range(0, len(wanted), IDS_PER_REQUEST):
        chunk = wanted[first : first + IDS_PER_REQUEST]
        params: dict[str, str | int] = {
            "id_list": ",".join(chunk),
            "start": 0,
            "max_results": len(chunk),
        }
        for item in _get_feed(fetcher, base_url, params, offset=first).items:
            if isinstance(item, Rejection):
                raise SourceError(f"arXiv API sent an unreadable entry: {item}")
            papers.append(item)
    return papers
