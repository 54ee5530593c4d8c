"""What the Hugging Face routes (hf_api.py) and paperfeed's envelope (api.py) share: the
parameters of a list and of a search (FastAPI dependencies, so both shapes take the same
ones), the queries behind them (the same as the pages'), the community's part of each
paper, and the one way an API id names a paper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Request
from fastapi.responses import Response

from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.deliver.render.papers import daily_item, paper_json
from paperfeed.deliver.web.hub import Hub
from paperfeed.errors import InvalidInputError
from paperfeed.index.query import parse_query
from paperfeed.models import StoredPaper
from paperfeed.rank.daily import parse_day
from paperfeed.rank.lists import (
    ListPage,
    Period,
    day_period,
    month_period,
    period_list,
    week_period,
)
from paperfeed.rank.search import SearchResult
from paperfeed.rank.trending import combined_votes
from paperfeed.store import featured
from paperfeed.store.cards import card_facts

Sort = Literal["publishedAt", "trending", "votes"]
Mode = Literal["hybrid", "lexical", "semantic"]
DateParam = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")]
LimitParam = Annotated[int, Query(ge=1, le=100)]


@dataclass
class ListParams:
    """Which list, which page: ``date``, ``week`` or ``month`` (default: the latest
    featured day), ``submitter``, ``p`` and ``limit``, as huggingface.co takes them."""

    date: DateParam = None
    week: Annotated[str | None, Query(max_length=8, description="YYYY-Www")] = None
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None
    submitter: Annotated[
        str | None,
        Query(
            max_length=100,
            description="only papers this user put on the list (on Hugging Face, or as a "
            "member here); alone, theirs of every day",
        ),
    ] = None
    p: Annotated[int, Query(ge=0, le=200, description="page number, from 0")] = 0
    limit: LimitParam = 50

    def listing(self, hub: Hub, sort: str) -> ListPage:
        """One page of the daily, weekly or monthly list (the same query as the pages)."""
        return period_list(
            hub.engine,
            self._period(hub),
            sort=sort,
            limit=self.limit,
            offset=self.p * self.limit,
            now=hub.now(),
            zone=hub.zone,
            rule=hub.rule,
            submitter=self.submitter or None,
        )

    def _period(self, hub: Hub) -> Period:
        if len([v for v in (self.date, self.week, self.month) if v]) > 1:
            raise InvalidInputError("give at most one of date, week and month")
        if self.week:
            return week_period(self.week)
        if self.month:
            return month_period(self.month)
        chosen = parse_day(self.date, "date")
        if chosen is not None:
            return day_period(chosen)
        if self.submitter:  # a submitter's papers of every day
            return Period("day", date(1, 1, 1), hub.today(), "all")
        with hub.engine.connect() as conn:
            latest = featured.latest_featured_day(conn, on_or_before=hub.today())
        return day_period(latest or hub.today())


async def cached_list(
    request: Request,
    hub: Hub,
    params: ListParams,
    sort: str,
    shape: Callable[[ListPage], object],
) -> Response:
    """``shape(page)`` as JSON, with an ETag, cached until the next commit to the
    database, except the trending order, which moves with the clock."""

    def render() -> tuple[bytes, str]:
        return orjson.dumps(shape(params.listing(hub, sort))), "application/json"

    # The default day is the latest up to today, so today is part of the key.
    key = (request.url.path, str(request.url), hub.today())
    return await hub.responses.respond(request, key, render, cacheable=sort != "trending")


@dataclass
class SearchParams:
    """A search's options besides ``q`` (the query syntax), which take its filters too."""

    mode: Annotated[Mode, Query()] = "hybrid"
    author: Annotated[str | None, Query(max_length=200)] = None
    category: Annotated[str | None, Query(max_length=64)] = None
    after: DateParam = None
    before: DateParam = None
    p: Annotated[int, Query(ge=0, le=50, description="page number, from 0")] = 0
    limit: LimitParam = 20

    @property
    def filtered(self) -> bool:
        return bool(self.author or self.category or self.after or self.before)

    def run(self, hub: Hub, q: str) -> SearchResult:
        """One page of the search (the same as the search page's)."""
        query = parse_query(q).with_filters(
            authors=(self.author,) if self.author else (),
            categories=(self.category,) if self.category else (),
            after=parse_day(self.after, "after"),
            before=parse_day(self.before, "before"),
        )
        if self.p * self.limit > 1000:
            raise InvalidInputError("results go 1,000 deep at most")
        return hub.search(query, mode=self.mode, limit=self.limit, offset=self.p * self.limit)


#: What ``q`` takes (the query syntax).
QUERY_SYNTAX = 'words, "phrases", -exclusions, author:, cat:, after:, before:'


@dataclass(frozen=True)
class Community:
    """What the hub's members add to papers: votes (imported plus theirs), visible
    comments, and who submitted each paper here."""

    votes: dict[int, int]
    comments: dict[int, int]
    submitters: dict[int, str]

    def item(self, stored: StoredPaper) -> dict[str, object]:
        return daily_item(stored, **self._of(stored))

    def paper(self, stored: StoredPaper) -> dict[str, object]:
        return paper_json(stored, **self._of(stored))

    def _of(self, stored: StoredPaper) -> dict[str, Any]:
        return {
            "votes": self.votes.get(stored.id),
            "comments": self.comments.get(stored.id, 0),
            "submitter": self.submitters.get(stored.id),
        }


def community(hub: Hub, papers: list[StoredPaper], listed: ListPage | None = None) -> Community:
    """The community's part of ``papers`` in one statement (a list page has counted votes
    and comments: then only who submitted each)."""
    if not papers:
        return Community({}, {}, {})
    ids = [s.id for s in papers]
    count = listed is None
    with hub.engine.connect() as conn:
        facts = card_facts(conn, ids, user_id=None, count_votes=count, count_comments=count)
    by = {pid: f.submitted_by for pid, f in facts.items() if f.submitted_by is not None}
    if listed is not None:
        return Community(listed.votes, listed.comments, by)
    votes = combined_votes(papers, {pid: f.hub_votes or 0 for pid, f in facts.items()})
    return Community(votes, {pid: f.comments or 0 for pid, f in facts.items()}, by)


def daily_items(hub: Hub, listed: ListPage) -> list[dict[str, object]]:
    """A list page's items, shaped as huggingface.co's."""
    shown = community(hub, listed.papers, listed)
    return [shown.item(s) for s in listed.papers]


def shown_paper(hub: Hub, paper_id: str) -> StoredPaper:
    """The paper an API id names (see ``find_paper``); one a moderator hid is not found."""
    with hub.engine.connect() as conn:
        return find_paper(conn, paper_id)
