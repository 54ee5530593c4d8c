"""Hugging Face daily papers (``/api/daily_papers``): the community's picks of the day.

The API answers a JSON array; each item holds a ``paper`` object (arXiv id,
authors, dates, upvotes, links, AI keywords) plus a few listing fields. Each item
becomes a :class:`~paperfeed.models.Paper` with ``featured_on`` set to the day it
was on the list, or a :class:`~paperfeed.models.Rejection` at its 1-based index
when it cannot be one. A body that is not a JSON array is a
:class:`~paperfeed.errors.SourceError`: nothing in it can be trusted.

:class:`HfDailySource` reads the same JSON from a file or from the live API
through a :class:`~paperfeed.ingest.http.Fetcher`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any

from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper, Parsed, Rejection, collapse_whitespace, split_arxiv_id

SOURCE_NAME = "hf-daily"


class _BadItem(Exception):
    """An item that cannot become a Paper; the message is the rejection's reason."""


def parse_daily_papers(
    data: bytes | str, zone: tzinfo = UTC, *, day: date | None = None
) -> Iterator[Parsed]:
    """Parse one ``/api/daily_papers`` response into records, one per item, in order.

    ``featured_on`` is the date part of ``submittedOnDailyAt`` exactly as written
    (a UTC midnight that names the calendar day, so it is not shifted to
    ``zone``). Only an item without it falls back to ``day`` (the day the
    caller asked for), else to the day of ``publishedAt`` in ``zone``.

    Raises :class:`SourceError` when ``data`` is not a JSON array.
    """
    try:
        items = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"Hugging Face daily papers: invalid JSON: {exc}") from exc
    if not isinstance(items, list):
        raise SourceError(
            f"Hugging Face daily papers: expected a JSON array, got {type(items).__name__}"
        )
    for position, item in enumerate(items, 1):
        yield Parsed(_parse_item(item, position, zone, day), position)


def _parse_item(item: object, position: int, zone: tzinfo, day: date | None) -> Paper | Rejection:
    if not isinstance(item, dict):
        return Rejection(position, f"expected an object, got {type(item).__name__}")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        return Rejection(position, "missing paper object")
    raw_id = paper.get("id")
    ident = raw_id if isinstance(raw_id, str) and raw_id else None
    try:
        return _paper(item, paper, ident, zone, day)
    except _BadItem as exc:
        return Rejection(position, str(exc), ident)


def _paper(
    item: dict[str, Any],
    paper: dict[str, Any],
    raw_id: str | None,
    zone: tzinfo,
    day: date | None,
) -> Paper:
    if raw_id is None:
        raise _BadItem("missing paper.id")
    try:
        arxiv_id, version = split_arxiv_id(raw_id)
    except ValueError as exc:
        raise _BadItem(str(exc)) from exc
    title = _first_text(paper, item, "title")
    if not title:
        raise _BadItem("missing title")
    published_at = _timestamp(paper.get("publishedAt", item.get("publishedAt")), "publishedAt")
    featured = paper.get("submittedOnDailyAt")
    if featured is not None:
        featured_on: date | None = _day_part(featured)
    elif day is not None:
        featured_on = day
    else:
        featured_on = published_at.astimezone(zone).date() if published_at else None
    upvotes = paper.get("upvotes")
    if type(upvotes) is not int or upvotes < 0:
        upvotes = None  # a count HF did not send (or sent garbled) is unknown, not zero
    return Paper(
        title=title,
        abstract=_first_text(paper, item, "summary"),
        arxiv_id=arxiv_id,
        version=version,
        authors=_authors(paper.get("authors")),
        published_at=published_at,
        code_url=_url(paper.get("githubRepo")),
        project_url=_url(paper.get("projectPage")),
        keywords=_keywords(paper.get("ai_keywords")),
        featured_on=featured_on,
        upvotes=upvotes,
        source=SOURCE_NAME,
    )


def _first_text(paper: dict[str, Any], item: dict[str, Any], key: str) -> str:
    """``paper[key]``, else the item's copy of it, whitespace collapsed; ``""`` when absent."""
    value = paper.get(key)
    if value is None:
        value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadItem(f"{key} is {type(value).__name__}, not a string")
    return collapse_whitespace(value)


def _timestamp(value: object, field: str) -> datetime | None:
    """An ISO 8601 instant (``2026-05-30T00:00:00.000Z``) as an aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadItem(f"{field} is not a string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _BadItem(f"impossible {field} {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _day_part(value: object) -> date:
    """The calendar day of ``submittedOnDailyAt``, read from its date part as written."""
    if not isinstance(value, str):
        raise _BadItem(f"submittedOnDailyAt is not a string: {value!r}")
    _timestamp(value, "submittedOnDailyAt")  # the whole value must be a valid instant
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise _BadItem(f"impossible submittedOnDailyAt {value!r}") from exc


def _authors(raw: object) -> tuple[str, ...]:
    """Every named author in order; ``hidden`` only hides the name on HF's page, so it is kept."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _BadItem("authors is not a list")
    names = []
    for entry in raw:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(" ".join(name.split()))
    return tuple(names)


def _url(value: object) -> str | None:
    if isinstance(value, str) and value.strip().startswith(("https://", "http://")):
        return value.strip()
    return None


def _keywords(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    seen: dict[str, None] = {}
    for keyword in raw:
        if isinstance(keyword, str) and keyword.strip():
            seen.setdefault(" ".join(keyword.split()), None)
    return tuple(seen)


class HfDailySource:
    """Daily papers from a saved ``/api/daily_papers`` file or from the live API.

    ``location`` is a file path, or an ``http(s)://`` URL fetched through
    ``fetcher`` (with ``?date=YYYY-MM-DD`` when ``day`` is given). The response is
    small (one day's list), so it is read whole and the job is simply rerun when
    interrupted: ``checkpoint_key`` is ``None`` and cursors are ``None``.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        location: str | Path,
        *,
        zone: tzinfo = UTC,
        day: date | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.location = location
        self.zone = zone
        self.day = day
        self.fetcher = fetcher
        self._total: int | None = None

    @classmethod
    def for_day(cls, settings: Settings, day: date, fetcher: Fetcher) -> HfDailySource:
        """The live list of ``day`` from ``settings.hf_daily_papers_url``."""
        return cls(settings.hf_daily_papers_url, zone=settings.zone, day=day, fetcher=fetcher)

    @property
    def is_remote(self) -> bool:
        return isinstance(self.location, str) and self.location.startswith(("http://", "https://"))

    @property
    def checkpoint_key(self) -> str | None:
        return None

    @property
    def total(self) -> int | None:
        """The number of items, known once the response has been read."""
        return self._total

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Yield every item of the list (``cursor`` is ignored: the job is rerun whole)."""
        data = self._fetch() if self.is_remote else self._read()
        records = list(parse_daily_papers(data, self.zone, day=self.day))
        self._total = len(records)
        yield from records

    def _read(self) -> bytes:
        path = Path(self.location)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read Hugging Face daily papers file {path}: {exc}") from exc

    def _fetch(self) -> bytes:
        url = str(self.location)
        params = {"date": self.day.isoformat()} if self.day is not None else None
        if self.fetcher is None:
            with Fetcher() as fetcher:
                response = fetcher.get(url, params=params)
        else:
            response = self.fetcher.get(url, params=params)
        if response.status_code != 200:
            raise SourceError(
                f"{response.url} answered HTTP {response.status_code}: {response.text[:200]!r}"
            )
        return response.content
