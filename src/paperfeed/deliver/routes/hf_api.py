"""The routes huggingface.co serves, answering as huggingface.co does, so that its clients
(``huggingface_hub``'s ``HfApi(endpoint=...)``, scripts written for the Hub) work with a
base-URL change: ``/api/daily_papers`` and ``/api/papers/search`` answer a bare JSON array
of items, ``/api/papers/{id}`` one paper object, with Hugging Face's parameters, field
names and types. paperfeed's own envelope of the same lists (``{data, count, next}``,
``count`` the total) is under ``/api/pf/`` (routes/api.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.deliver.render.papers import daily_item, paper_json
from paperfeed.deliver.web.deps import HubDep
from paperfeed.deliver.web.errors import ERRORS
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
from paperfeed.rank.search import Fusion, SearchResult, search
from paperfeed.rank.trending import combined_votes
from paperfeed.store import comments as hub_comments
from paperfeed.store import featured, submissions
from paperfeed.store import votes as hub_votes

router = APIRouter(prefix="/api", tags=["Hugging Face API"])

Sort = Literal["publishedAt", "trending", "votes"]
Mode = Literal["hybrid", "lexical", "semantic"]


class Author(BaseModel):
    name: str


class HfUser(BaseModel):
    user: str = Field(description="the Hugging Face user name (what huggingface_hub reads)")
    name: str = Field(description="the same user name (what huggingface.co's items carry)")
    fullname: str
    type: Literal["user"] = "user"


class HfOrganization(BaseModel):
    name: str
    fullname: str


class VersionOut(BaseModel):
    version: int
    submittedAt: str | None


class PaperOut(BaseModel):
    """Hugging Face's paper object; a field the hub does not know is left out (as
    huggingface.co leaves it out), then paperfeed's arXiv fields (null when unknown)."""

    id: str = Field(description="arXiv id without version, or pfN for papers without one")
    authors: list[Author]
    publishedAt: str | None = Field(None, description="the arXiv publication time")
    submittedOnDailyAt: str | None = Field(None, description="when it joined the daily list")
    title: str
    submittedOnDailyBy: HfUser | None = None
    summary: str = Field(description="the abstract")
    upvotes: int = Field(description="votes imported with the paper plus the hub's own")
    discussionId: str | None = None
    ai_summary: str | None = None
    ai_summary_model: str | None = None
    ai_keywords: list[str]
    organization: HfOrganization | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    numComments: int = Field(description="comments imported with the paper plus the hub's")
    arxivId: str | None
    updatedAt: str | None
    categories: list[str]
    primaryCategory: str | None
    version: int | None
    versions: list[VersionOut]
    doi: str | None
    journalRef: str | None
    arxivComments: str | None = Field(description="arXiv's comments field (pages, venue)")
    license: str | None
    absUrl: str | None
    pdfUrl: str | None
    url: str = Field(description="the paper's page on this hub")


class DailyItem(BaseModel):
    """One element of ``/api/daily_papers`` and ``/api/papers/search``."""

    paper: PaperOut
    publishedAt: str | None = Field(description="when the daily list published it")
    title: str
    summary: str
    thumbnail: str | None = None
    numComments: int
    submittedBy: HfUser | None = None
    organization: HfOrganization | None = None
    ai_summary: str | None = Field(None, description="repeated from paper, where clients read it")
    ai_keywords: list[str] = Field(description="repeated from paper")
    githubRepo: str | None = Field(None, description="repeated from paper")
    githubStars: int | None = Field(None, description="repeated from paper")
    projectPage: str | None = Field(None, description="repeated from paper")


# -- the queries both shapes answer ---------------------------------------------------------


def daily_listing(
    hub: Hub,
    *,
    date: str | None,
    week: str | None,
    month: str | None,
    submitter: str | None,
    sort: str,
    p: int,
    limit: int,
) -> ListPage:
    """One page of the daily, weekly or monthly list (the same query as the pages)."""
    return period_list(
        hub.engine,
        _period(hub, date, week, month, submitter),
        sort=sort,
        limit=limit,
        offset=p * limit,
        now=hub.now(),
        zone=hub.zone,
        rule=hub.rule,
        submitter=submitter or None,
    )


def _period(
    hub: Hub, day: str | None, week: str | None, month: str | None, submitter: str | None
) -> Period:
    given = [v for v in (day, week, month) if v]
    if len(given) > 1:
        raise InvalidInputError("give at most one of date, week and month")
    if week:
        return week_period(week)
    if month:
        return month_period(month)
    chosen = parse_day(day, "date")
    if chosen is not None:
        return day_period(chosen)
    if submitter:  # a submitter's papers of every day
        return Period("day", date(1, 1, 1), hub.today(), "all")
    with hub.engine.connect() as conn:
        latest = featured.latest_featured_day(conn, on_or_before=hub.today())
    return day_period(latest or hub.today())


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
    """The community's part of ``papers`` (a list page has counted votes and comments)."""
    ids = [s.id for s in papers]
    with hub.engine.connect() as conn:
        by = submissions.submitters(conn, ids)
        if listed is not None:
            return Community(listed.votes, listed.comments, by)
        votes = combined_votes(papers, hub_votes.counts(conn, ids))
        return Community(votes, hub_comments.counts(conn, ids), by)


def daily_items(hub: Hub, listed: ListPage) -> list[dict[str, object]]:
    shown = community(hub, listed.papers, listed)
    return [shown.item(s) for s in listed.papers]


def run_search(
    hub: Hub,
    q: str,
    *,
    mode: str,
    author: str | None,
    category: str | None,
    after: str | None,
    before: str | None,
    p: int,
    limit: int,
) -> SearchResult:
    """One page of a search (the query syntax, with the filters as parameters too)."""
    query = parse_query(q).with_filters(
        authors=(author,) if author else (),
        categories=(category,) if category else (),
        after=parse_day(after, "after"),
        before=parse_day(before, "before"),
    )
    if p * limit > 1000:
        raise InvalidInputError("results go 1,000 deep at most")
    return search(
        hub.engine,
        hub.semantic,
        query,
        mode=mode,
        limit=limit,
        offset=p * limit,
        fusion=Fusion.from_settings(hub.settings),
        words=hub.words,
    )


def shown_paper(hub: Hub, paper_id: str) -> StoredPaper:
    """The paper an API id names; one a moderator hid is not found (404)."""
    with hub.engine.connect() as conn:
        return find_paper(conn, paper_id)


# -- the routes -----------------------------------------------------------------------------

DateParam = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")]
WeekParam = Annotated[str | None, Query(max_length=8, description="YYYY-Www")]
MonthParam = Annotated[str | None, Query(max_length=7, description="YYYY-MM")]
SubmitterParam = Annotated[
    str | None,
    Query(max_length=100, description="only papers this Hugging Face user put on the list"),
]
PageParam = Annotated[int, Query(ge=0, le=200, description="page number, from 0")]
LimitParam = Annotated[int, Query(ge=1, le=100)]


@router.get("/daily_papers", response_model=list[DailyItem], responses=ERRORS)
async def hf_daily_papers(
    request: Request,
    hub: HubDep,
    date: DateParam = None,
    week: WeekParam = None,
    month: MonthParam = None,
    submitter: SubmitterParam = None,
    sort: Annotated[Sort, Query()] = "publishedAt",
    p: PageParam = 0,
    limit: LimitParam = 50,
) -> Response:
    """Papers featured on a day (default: the latest), an ISO week or a month, as
    huggingface.co answers: a bare array. ``submitter`` alone lists that user's papers of
    every day. Answers carry an ETag (``If-None-Match`` gets 304) and are cached until the
    next commit to the database, except the trending order, which moves with the clock."""

    def render() -> tuple[bytes, str]:
        listed = daily_listing(
            hub, date=date, week=week, month=month, submitter=submitter, sort=sort, p=p, limit=limit
        )
        return orjson.dumps(daily_items(hub, listed)), "application/json"

    # The default day is the latest up to today, so today is part of the key.
    key = ("hf_daily_papers", str(request.url), hub.today())
    return await hub.responses.respond(request, key, render, cacheable=sort != "trending")


@router.get("/papers/search", response_model=list[DailyItem], responses=ERRORS)
def hf_search_papers(
    hub: HubDep,
    q: Annotated[
        str | None,
        Query(
            max_length=1000,
            description='words, "phrases", -exclusions, author:, cat:, after:, before:; '
            "without it, the latest day's list",
        ),
    ] = None,
    mode: Annotated[Mode, Query()] = "hybrid",
    author: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    after: DateParam = None,
    before: DateParam = None,
    p: Annotated[int, Query(ge=0, le=50)] = 0,
    limit: LimitParam = 20,
) -> Any:
    """Search by words and meaning, answered as huggingface.co answers: a bare array of
    the same items as ``/api/daily_papers``, best first. Without ``q`` (nor a filter),
    the latest day's papers, newest first, as ``/api/daily_papers`` lists them."""
    if not (q or "").strip() and not (author or category or after or before):
        listed = daily_listing(
            hub,
            date=None,
            week=None,
            month=None,
            submitter=None,
            sort="publishedAt",
            p=p,
            limit=limit,
        )
        return Response(orjson.dumps(daily_items(hub, listed)), media_type="application/json")
    result = run_search(
        hub,
        q or "",
        mode=mode,
        author=author,
        category=category,
        after=after,
        before=before,
        p=p,
        limit=limit,
    )
    shown = community(hub, result.papers)
    items = [shown.item(s) for s in result.papers]
    return Response(orjson.dumps(items), media_type="application/json")


@router.get("/papers/{paper_id}", response_model=PaperOut, responses=ERRORS)
def hf_paper(hub: HubDep, paper_id: Annotated[str, PathParam(max_length=64)]) -> Any:
    """One paper by arXiv id (any version suffix is ignored) or ``pfN``, as huggingface.co
    answers ``/api/papers/{id}``, with paperfeed's arXiv fields."""
    stored = shown_paper(hub, paper_id)
    body = community(hub, [stored]).paper(stored)
    return Response(orjson.dumps(body), media_type="application/json")
