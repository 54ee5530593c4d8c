"""Atom and RSS 2.0 feeds of the daily list, trending, a category and any search,
with ETag / Last-Modified answered by 304 when nothing changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from paperfeed.deliver.render.feeds import (
    Added,
    FeedMeta,
    feed_etag,
    last_modified,
    not_modified,
    render_atom,
    render_rss,
)
from paperfeed.deliver.web.deps import HubDep
from paperfeed.deliver.web.errors import ErrorOut
from paperfeed.deliver.web.hub import Hub
from paperfeed.errors import InvalidInputError
from paperfeed.index.query import parse_query
from paperfeed.models import StoredPaper
from paperfeed.rank.lists import day_period, period_list, trending_list
from paperfeed.rank.search import search
from paperfeed.store import featured

router = APIRouter(prefix="/feeds", tags=["feeds"])
Format = Annotated[Literal["atom", "rss"], PathParam(description="atom or rss")]
FEED_SIZE = 50
FEED_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the feed",
        "content": {"application/atom+xml": {}, "application/rss+xml": {}},
    },
    304: {"description": "not modified since the ETag / date the client sent"},
    400: {"model": ErrorOut, "description": "invalid input"},
}
_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
}


def _respond(
    request: Request,
    hub: Hub,
    fmt: str,
    meta: FeedMeta,
    papers: Sequence[StoredPaper],
    key: str,
    *,
    added: Mapping[int, Added] | None = None,
    changed: datetime | None = None,
) -> Response:
    """The feed, or 304. ``added``: a member's list (when each paper was added, the
    note); ``changed``: when the list itself last changed (a paper taken out)."""
    if fmt not in _TYPES:
        raise InvalidInputError("feeds come as .atom or .rss")
    etag = feed_etag(f"{key}:{fmt}", papers, extra=hub.settings.base_url, added=added)
    modified = last_modified(papers, hub.now(), added=added, floor=changed)
    headers = {
        "ETag": etag,
        "Last-Modified": modified.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": "public, max-age=300",
    }
    if not_modified(
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
        etag,
        modified,
    ):
        return Response(status_code=304, headers=headers)
    render = render_atom if fmt == "atom" else render_rss
    body = render(
        meta, papers, base_url=hub.settings.base_url.rstrip("/"), now=hub.now(), added=added
    )
    return Response(body, media_type=_TYPES[fmt], headers=headers)


def _meta(hub: Hub, request: Request, title: str, page: str, key: str) -> FeedMeta:
    return FeedMeta(
        title=f"paperfeed · {title}",
        self_url=hub.absolute(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        ),
        page_url=hub.absolute(page),
        feed_id=hub.absolute(f"/feeds/{key}"),
    )


@router.get(
    "/daily.{fmt}",
    summary="The latest day's featured papers (Atom or RSS)",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def daily_feed(request: Request, hub: HubDep, fmt: Format) -> Response:
    with hub.engine.connect() as conn:
        day = featured.latest_featured_day(conn, on_or_before=hub.today()) or hub.today()
    listed = period_list(
        hub.engine, day_period(day), limit=FEED_SIZE, now=hub.now(), zone=hub.zone, rule=hub.rule
    )
    meta = _meta(hub, request, f"Daily papers {day.isoformat()}", f"/papers/date/{day}", "daily")
    return _respond(request, hub, fmt, meta, listed.papers, f"daily:{day}")


@router.get(
    "/trending.{fmt}",
    summary="Trending papers (Atom or RSS)",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def trending_feed(request: Request, hub: HubDep, fmt: Format) -> Response:
    listed = trending_list(hub.engine, now=hub.now(), zone=hub.zone, rule=hub.rule, limit=FEED_SIZE)
    meta = _meta(hub, request, "Trending papers", "/trending", "trending")
    return _respond(request, hub, fmt, meta, listed.papers, "trending")


@router.get(
    "/category/{category}.{fmt}",
    summary="Newest papers of a category (Atom or RSS)",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def category_feed(
    request: Request,
    hub: HubDep,
    category: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z][A-Za-z.-]*$")],
    fmt: Format,
) -> Response:
    result = search(hub.engine, hub.semantic, f"cat:{category}", limit=FEED_SIZE, words=hub.words)
    meta = _meta(
        hub,
        request,
        f"Newest in {category}",
        f"/search?{urlencode({'cat': category})}",
        f"category/{category}",
    )
    return _respond(request, hub, fmt, meta, result.papers, f"category:{category}")


@router.get(
    "/search.{fmt}",
    summary="Any search as a feed (Atom or RSS)",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def search_feed(
    request: Request,
    hub: HubDep,
    fmt: Format,
    q: Annotated[str, Query(max_length=1000)],
    mode: Annotated[str, Query(max_length=10)] = "hybrid",
) -> Response:
    result = search(
        hub.engine, hub.semantic, parse_query(q), mode=mode, limit=FEED_SIZE, words=hub.words
    )
    meta = _meta(hub, request, f"Search: {q}", f"/search?{urlencode({'q': q})}", "search")
    return _respond(request, hub, fmt, meta, result.papers, f"search:{mode}:{q}")
