"""paperfeed's own JSON lists: ``{data, count, next}`` where ``count`` is the number of
papers over all pages and ``next`` the URL of the next page (or null). ``/api/pf/`` holds
the envelope of the lists that huggingface.co's routes (routes/hf_api.py) answer as bare
arrays; the items are the same. Also the similar papers and the readiness probe."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed import __version__
from paperfeed.deliver.routes.api.hugging_face import DailyItem, PaperOut
from paperfeed.deliver.routes.paper_lists import (
    QUERY_SYNTAX,
    DateParam,
    ListParams,
    SearchParams,
    Sort,
    cached_list,
    community,
    daily_items,
    shown_paper,
)
from paperfeed.deliver.web.deps import HubDep
from paperfeed.deliver.web.errors import ERRORS, ErrorOut
from paperfeed.deliver.web.hub import Hub
from paperfeed.errors import StorageError
from paperfeed.index.query import parse_query
from paperfeed.models import Hit, StoredPaper
from paperfeed.rank.daily import parse_day
from paperfeed.rank.lists import ListPage
from paperfeed.rank.search import similar
from paperfeed.store import health as health_store

__all__ = ["PaperOut", "health", "router"]

router = APIRouter(prefix="/api", tags=["papers"])


class DailyList(BaseModel):
    data: list[DailyItem]
    count: int = Field(description="papers over all pages")
    next: str | None = Field(description="the URL of the next page, or null")


class ScoredPaper(PaperOut):
    score: float


class PaperList(BaseModel):
    data: list[ScoredPaper]
    count: int = Field(description="papers over all pages")
    next: str | None = Field(description="the URL of the next page, or null")


class SearchList(PaperList):
    closeMatch: bool = Field(
        description="false when no paper is close to the words: data holds the nearest few"
    )
    notice: str | None = Field(description="why the results are not what was asked, or null")


def _next(request: Request, more: bool, page: int) -> str | None:
    if not more:
        return None
    return str(request.url.include_query_params(p=page + 1))


def _scored(hub: Hub, hits: list[Hit], papers: list[StoredPaper]) -> list[dict[str, Any]]:
    shown = community(hub, papers)
    return [{**shown.paper(s), "score": h.score} for h, s in zip(hits, papers, strict=True)]


@router.get("/pf/daily_papers", response_model=DailyList, responses=ERRORS)
async def daily_papers(
    request: Request,
    hub: HubDep,
    params: Annotated[ListParams, Depends()],
    sort: Annotated[Sort, Query()] = "votes",
) -> Response:
    """The items of ``/api/daily_papers`` in paperfeed's envelope (default order: votes).

    Answers carry an ETag (``If-None-Match`` gets 304) and are cached until the next
    commit to the database, except the trending order, which moves with the clock."""

    def envelope(page: ListPage) -> dict[str, object]:
        return {
            "data": daily_items(hub, page),
            "count": page.total,
            "next": _next(request, page.more, params.p),
        }

    return await cached_list(request, hub, params, sort, envelope)


@router.get("/pf/papers/search", response_model=SearchList, responses=ERRORS)
def search_papers(
    request: Request,
    hub: HubDep,
    params: Annotated[SearchParams, Depends()],
    q: Annotated[str, Query(max_length=1000, description=QUERY_SYNTAX)],
) -> dict[str, Any]:
    """Hybrid search by words and meaning, with the same filters as the query syntax;
    each paper with its ``score``. When no paper is close to the words, ``closeMatch`` is
    false and ``data`` holds the nearest few, as the search page shows them."""
    result = params.run(hub, q)
    data = _scored(hub, result.hits, result.papers)
    return {
        "data": data,
        "count": result.total,
        "next": _next(request, result.more, params.p),
        "closeMatch": result.close_match,
        "notice": result.notice,
    }


@router.get("/papers/{paper_id}/similar", response_model=PaperList, responses=ERRORS)
def similar_papers(
    hub: HubDep,
    paper_id: Annotated[str, PathParam(max_length=64)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    after: DateParam = None,
) -> dict[str, Any]:
    """Papers nearest in meaning, excluding the paper itself (404 for a hidden paper)."""
    stored = shown_paper(hub, paper_id)
    day = parse_day(after, "after")
    within = parse_query(f"after:{day.isoformat()}") if day else None
    hits, papers = similar(hub.engine, hub.semantic, [stored.id], limit=limit, within=within)
    data = _scored(hub, hits, papers)
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
