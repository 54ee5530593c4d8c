"""The JSON API under /api. Lists are ``{data, count, next}``; Hugging Face's field
names are kept where they fit (``/api/daily_papers`` items carry a ``paper`` object
with ``id``, ``title``, ``summary``, ``authors``, ``publishedAt``, ``upvotes`` ...),
so existing clients port with a base-URL change."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed import __version__
from paperfeed.deliver.render.papers import daily_item, paper_json
from paperfeed.deliver.web.deps import HubDep
from paperfeed.deliver.web.errors import ERRORS, ErrorOut
from paperfeed.deliver.web.hub import Hub
from paperfeed.errors import InvalidInputError, NotFoundError, StorageError
from paperfeed.index.query import parse_query
from paperfeed.models import StoredPaper, split_arxiv_id
from paperfeed.rank.daily import parse_day
from paperfeed.rank.lists import Period, day_period, month_period, period_list, week_period
from paperfeed.rank.search import Fusion, search, similar
from paperfeed.rank.trending import combined_votes
from paperfeed.store import featured
from paperfeed.store import health as health_store
from paperfeed.store import papers as store
from paperfeed.store import votes as hub_votes

router = APIRouter(prefix="/api", tags=["papers"])


class Author(BaseModel):
    name: str


class PaperOut(BaseModel):
    id: str = Field(description="arXiv id without version (or pfN for papers without one)")
    arxivId: str | None
    title: str
    summary: str
    authors: list[Author]
    publishedAt: str | None
    updatedAt: str | None
    submittedOnDailyAt: str | None = Field(description="the day it was featured on the hub")
    upvotes: int
    githubRepo: str | None
    projectPage: str | None
    ai_keywords: list[str]
    categories: list[str]
    primaryCategory: str | None
    version: int | None
    versions: list[dict[str, Any]]
    doi: str | None
    journalRef: str | None
    comments: str | None
    license: str | None
    absUrl: str | None
    pdfUrl: str | None
    url: str


class DailyItem(BaseModel):
    paper: PaperOut
    title: str
    summary: str
    publishedAt: str | None
    numComments: int


class DailyList(BaseModel):
    data: list[DailyItem]
    count: int
    next: str | None


class ScoredPaper(PaperOut):
    score: float


class PaperList(BaseModel):
    data: list[ScoredPaper]
    count: int
    next: str | None


def _next(request: Request, more: bool, page: int) -> str | None:
    if not more:
        return None
    return str(request.url.include_query_params(p=page + 1))


def _period(date: str | None, week: str | None, month: str | None, hub: Hub) -> Period:
    given = [v for v in (date, week, month) if v]
    if len(given) > 1:
        raise InvalidInputError("give at most one of date, week and month")
    if week:
        return week_period(week)
    if month:
        return month_period(month)
    day = parse_day(date, "date")
    if day is None:
        with hub.engine.connect() as conn:
            day = featured.latest_featured_day(conn, on_or_before=hub.today()) or hub.today()
    return day_period(day)


@router.get("/daily_papers", response_model=DailyList, responses=ERRORS)
async def daily_papers(
    request: Request,
    hub: HubDep,
    date: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    week: Annotated[str | None, Query(max_length=8, description="YYYY-Www")] = None,
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None,
    sort: Annotated[Literal["votes", "publishedAt", "trending"], Query()] = "votes",
    p: Annotated[int, Query(ge=0, le=200)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """Papers featured on a day (default: the latest), an ISO week or a month.

    Answers carry an ETag (``If-None-Match`` gets 304) and are cached until the next
    commit to the database, except the trending order, which moves with the clock."""

    def render() -> tuple[bytes, str]:
        listed = period_list(
            hub.engine,
            _period(date, week, month, hub),
            sort=sort,
            limit=limit,
            offset=p * limit,
            now=hub.now(),
            zone=hub.zone,
            rule=hub.rule,
        )
        data = [
            daily_item(s, votes=listed.votes.get(s.id), comments=listed.comments.get(s.id, 0))
            for s in listed.papers
        ]
        body = {"data": data, "count": len(data), "next": _next(request, listed.more, p)}
        return orjson.dumps(body), "application/json"

    # The default day is the latest up to today, so today is part of the key.
    key = ("daily_papers", str(request.url), hub.today())
    return await hub.responses.respond(request, key, render, cacheable=sort != "trending")


@router.get("/papers/search", response_model=PaperList, responses=ERRORS)
def search_papers(
    request: Request,
    hub: HubDep,
    q: Annotated[
        str,
        Query(
            max_length=1000,
            description='words, "phrases", -exclusions, author:, cat:, after:, before:',
        ),
    ],
    mode: Annotated[Literal["hybrid", "lexical", "semantic"], Query()] = "hybrid",
    author: Annotated[str | None, Query(max_length=200)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    before: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
    p: Annotated[int, Query(ge=0, le=50)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Hybrid search by words and meaning, with the same filters as the query syntax."""
    query = parse_query(q).with_filters(
        authors=(author,) if author else (),
        categories=(category,) if category else (),
        after=parse_day(after, "after"),
        before=parse_day(before, "before"),
    )
    if p * limit > 1000:
        raise InvalidInputError("results go 1,000 deep at most")
    result = search(
        hub.engine,
        hub.semantic,
        query,
        mode=mode,
        limit=limit,
        offset=p * limit,
        fusion=Fusion.from_settings(hub.settings),
        words=hub.words,
    )
    counted = _votes(hub, result.papers)
    data = [
        {**paper_json(s, votes=counted[s.id]), "score": h.score}
        for h, s in zip(result.hits, result.papers, strict=True)
    ]
    return {"data": data, "count": len(data), "next": _next(request, result.more, p)}


def _votes(hub: Hub, papers: list[StoredPaper]) -> dict[int, int]:
    """Votes per paper as every channel shows them: imported plus the hub members' own."""
    with hub.engine.connect() as conn:
        return combined_votes(papers, hub_votes.counts(conn, [s.id for s in papers]))


def _find(hub: Hub, paper_id: str) -> StoredPaper:
    with hub.engine.connect() as conn:
        if paper_id.startswith("pf") and paper_id[2:].isdigit():
            stored = store.get_by_id(conn, int(paper_id[2:]))
        else:
            try:
                base, _ = split_arxiv_id(paper_id)
            except ValueError as exc:
                raise NotFoundError(f"not a paper id: {paper_id[:60]!r}") from exc
            stored = store.get_by_arxiv_id(conn, base)
    if stored is None:
        raise NotFoundError(f"no paper {paper_id[:60]!r}")
    return stored


@router.get("/papers/{paper_id}", response_model=PaperOut, responses=ERRORS)
def get_paper(hub: HubDep, paper_id: Annotated[str, PathParam(max_length=64)]) -> dict[str, Any]:
    """One paper by arXiv id (any version suffix is ignored)."""
    stored = _find(hub, paper_id)
    return paper_json(stored, votes=_votes(hub, [stored])[stored.id])


@router.get("/papers/{paper_id}/similar", response_model=PaperList, responses=ERRORS)
def similar_papers(
    hub: HubDep,
    paper_id: Annotated[str, PathParam(max_length=64)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    after: Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")] = None,
) -> dict[str, Any]:
    """Papers nearest in meaning, excluding the paper itself."""
    stored = _find(hub, paper_id)
    day = parse_day(after, "after")
    within = parse_query(f"after:{day.isoformat()}") if day else None
    hits, papers = similar(hub.engine, hub.semantic, [stored.id], limit=limit, within=within)
    counted = _votes(hub, papers)
    data = [
        {**paper_json(s, votes=counted[s.id]), "score": h.score}
        for h, s in zip(hits, papers, strict=True)
    ]
    return {"data": data, "count": len(data), "next": None}


health = APIRouter(tags=["operations"])


class DatabaseOut(BaseModel):
    backend: Literal["sqlite", "postgresql"]
    migration: str | None = Field(description="the database's migration (the code's head)")
    latency_ms: float = Field(description="time the probe took, connecting included")


class HealthOut(BaseModel):
    ok: Literal[True] = True
    version: str
    database: DatabaseOut


@health.get(
    "/healthz",
    summary="Readiness: the database answers, quickly, at the code's migration",
    response_model=HealthOut,
    responses={
        503: {
            "model": ErrorOut,
            "description": "the database does not answer, or needs `paperfeed migrate`",
        }
    },
)
def healthz(hub: HubDep) -> Any:
    """``{ok, version, database: {backend, migration, latency_ms}}`` when the database
    answers within a short timeout and is at the migration this code needs; a 503 envelope
    saying why otherwise. One primary-key read: cheap enough to poll every second."""
    try:
        found = health_store.probe(hub.engine)
    except StorageError as exc:
        return _unavailable(str(exc))
    problem = health_store.readiness_error(found)
    if problem is not None:
        return _unavailable(problem)
    return {"ok": True, "version": __version__, "database": found.as_dict()}


def _unavailable(message: str) -> Response:
    body = {"ok": False, "error": message, "status": 503}
    return Response(orjson.dumps(body), status_code=503, media_type="application/json")
