"""The routes huggingface.co serves, answering as huggingface.co does, so that its clients
(``huggingface_hub``'s ``HfApi(endpoint=...)``, scripts written for the Hub) work with a
base-URL change: ``/api/daily_papers`` and ``/api/papers/search`` answer a bare JSON array
of items, ``/api/papers/{id}`` one paper object, with Hugging Face's parameters, field
names and types. paperfeed's own envelope of the same lists (``{data, count, next}``,
``count`` the total) is under ``/api/pf/`` (routes/api.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed.deliver.routes.paper_lists import (
    QUERY_SYNTAX,
    ListParams,
    SearchParams,
    Sort,
    cached_list,
    community,
    daily_items,
    shown_paper,
)
from paperfeed.deliver.web.deps import HubDep
from paperfeed.deliver.web.errors import ERRORS

router = APIRouter(prefix="/api", tags=["Hugging Face API"])


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


@router.get("/daily_papers", response_model=list[DailyItem], responses=ERRORS)
async def hf_daily_papers(
    request: Request,
    hub: HubDep,
    params: Annotated[ListParams, Depends()],
    sort: Annotated[Sort, Query()] = "publishedAt",
) -> Response:
    """Papers featured on a day (default: the latest), an ISO week or a month, as
    huggingface.co answers: a bare array. ``submitter`` alone lists that user's papers of
    every day. Answers carry an ETag (``If-None-Match`` gets 304) and are cached until the
    next commit to the database, except the trending order, which moves with the clock."""
    return await cached_list(request, hub, params, sort, lambda page: daily_items(hub, page))


@router.get("/papers/search", response_model=list[DailyItem], responses=ERRORS)
async def hf_search_papers(
    request: Request,
    hub: HubDep,
    params: Annotated[SearchParams, Depends()],
    q: Annotated[
        str | None,
        Query(max_length=1000, description=f"{QUERY_SYNTAX}; without it, the latest day's list"),
    ] = None,
) -> Response:
    """Search by words and meaning, answered as huggingface.co answers: a bare array of
    the same items as ``/api/daily_papers``, best first (none when no paper is close to
    the words). Without ``q`` (nor a filter), the latest day's papers, newest first, as
    ``/api/daily_papers`` lists them. Answers carry an ETag (``If-None-Match`` gets 304)
    and are cached until the next commit to the database."""

    def render() -> tuple[bytes, str]:
        if not (q or "").strip() and not params.filtered:
            latest = ListParams(p=params.p, limit=params.limit).listing(hub, "publishedAt")
            items = daily_items(hub, latest)
        else:
            result = params.run(hub, q or "")
            # Papers merely nearest to a query no paper is close to are no answer to it.
            found = result.papers if result.close_match else []
            shown = community(hub, found)
            items = [shown.item(s) for s in found]
        return orjson.dumps(items), "application/json"

    # Without q, the latest day up to today: today is part of the key.
    key = (request.url.path, str(request.url), hub.today())
    return await hub.responses.respond(request, key, render)


@router.get("/papers/{paper_id}", response_model=PaperOut, responses=ERRORS)
def hf_paper(hub: HubDep, paper_id: Annotated[str, PathParam(max_length=64)]) -> Any:
    """One paper by arXiv id (any version suffix is ignored) or ``pfN``, as huggingface.co
    answers ``/api/papers/{id}``, with paperfeed's arXiv fields; 404 for a hidden paper."""
    stored = shown_paper(hub, paper_id)
    body = community(hub, [stored]).paper(stored)
    return Response(orjson.dumps(body), media_type="application/json")
