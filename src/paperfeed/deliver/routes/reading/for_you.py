"""The "For you" feed: ``/for-you`` (page), ``GET /api/me/recommendations`` (API token or
session), ``/feeds/for-you/{token}.atom`` (a private feed behind a revocable token) and
"not interested" on any paper. Every channel calls :meth:`Recommender.for_you`."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.deliver.render.feeds import FeedMeta, render_atom
from paperfeed.deliver.render.papers import paper_path
from paperfeed.deliver.web.cards import load_cards
from paperfeed.deliver.web.deps import (
    AccountsDep,
    CsrfDep,
    MaybeTokenMember,
    ViewerDep,
    back_to,
    hub_of,
    render,
    require_csrf,
    services_of,
)
from paperfeed.deliver.web.errors import WRITE_ERRORS, ErrorOut
from paperfeed.deliver.web.ids import RowId
from paperfeed.errors import NotFoundError
from paperfeed.rank.recommend.feed import ForYou, ForYouItem
from paperfeed.store import papers as store
from paperfeed.store import recommendations as rec
from paperfeed.store.engine import writing
from paperfeed.store.users import Member

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["recommendations"])
feeds = APIRouter(prefix="/feeds", tags=["feeds"])


def feed_of(request: Request, member: Member, limit: int | None = None) -> ForYou:
    hub = hub_of(request)
    recommender = services_of(request).recommender
    count = limit or hub.settings.recommend_count
    return recommender.for_you(member.id, now=hub.now(), limit=count)


def reason_text(item: ForYouItem, preparing: bool = False) -> str:
    """The reason in words (for the feed and the API)."""
    reason = item.recommendation.reason
    if reason.kind == "followed":
        return "New from an author you follow: " + ", ".join(reason.authors)
    if reason.kind == "trending":
        if preparing:
            return "Trending now (your recommendations are being prepared)"
        return "Trending now (mixed in for exploration)"
    parts = []
    if item.liked:
        parts.append("Close to " + "; ".join(f"“{s.paper.title}”" for s in item.liked))
    if reason.terms:
        parts.append("words: " + ", ".join(reason.terms))
    return " · ".join(parts) or "Recommended for you"


@pages.get("/for-you", response_class=HTMLResponse)
def for_you_page(request: Request, viewer: ViewerDep) -> Response:
    member = permissions.require(viewer.member, "read_collection")
    shown = feed_of(request, member)
    with hub_of(request).engine.connect() as conn:
        cards = load_cards(conn, [item.stored for item in shown.items], member)
    return render(request, "for_you.html", {"feed": shown, "cards": cards, "nav": "for-you"})


@pages.post("/papers/id/{paper_id}/not-interested", response_class=HTMLResponse)
def not_interested_form(
    request: Request, paper_id: RowId, viewer: CsrfDep, accounts: AccountsDep
) -> Response:
    """Mark the paper "not interested": it leaves the feed, its neighbours sink."""
    mark(accounts, permissions.require(viewer.member, "read_collection"), paper_id, True)
    if request.headers.get("HX-Request") == "true":
        return HTMLResponse("")  # htmx swaps the card out
    return RedirectResponse(back_to(request, "/for-you"), status_code=303)


def mark(accounts: AccountsDep, member: Member, paper_id: int, on: bool) -> None:
    now = accounts.clock.now()
    with writing(accounts.engine) as conn:
        if store.get_by_id(conn, paper_id) is None:
            raise NotFoundError(f"no paper {paper_id}")
        if on:
            rec.add_signal(
                conn, user_id=member.id, paper_id=paper_id, kind="not_interested", now=now
            )
        else:
            rec.remove_signal(
                conn, user_id=member.id, paper_id=paper_id, kind="not_interested", now=now
            )


class ReasonOut(BaseModel):
    kind: str
    text: str
    liked: list[dict[str, Any]]
    terms: list[str]
    authors: list[str]


class RecommendationOut(BaseModel):
    paper: dict[str, Any]
    score: float
    source: str
    reason: ReasonOut


class RecommendationsOut(BaseModel):
    data: list[RecommendationOut]
    count: int
    paused: bool
    cold_start: bool
    #: True while the hub prepares its recommendations: the papers are trending ones.
    preparing: bool


@api.get(
    "/me/recommendations",
    response_model=RecommendationsOut,
    summary='The member\'s "For you" papers, each with its reason',
    responses=WRITE_ERRORS,
)
def recommendations_api(
    request: Request, token_member: MaybeTokenMember, viewer: ViewerDep, limit: int = 30
) -> dict[str, Any]:
    """Sent with an API token, or from a logged-in browser session."""
    member = token_member or permissions.require(viewer.member, "read_collection")
    shown = feed_of(request, member, max(1, min(limit, 100)))
    return {
        "data": [as_json(item, shown.preparing) for item in shown.items],
        "count": len(shown.items),
        "paused": shown.paused,
        "cold_start": shown.cold_start,
        "preparing": shown.preparing,
    }


def as_json(item: ForYouItem, preparing: bool = False) -> dict[str, Any]:
    r = item.recommendation
    return {
        "paper": item.stored.as_dict(),
        "score": r.score,
        "source": r.source,
        "reason": {
            "kind": r.reason.kind,
            "text": reason_text(item, preparing),
            "liked": [
                {
                    "paper_id": s.id,
                    "id": s.paper.arxiv_id,
                    "title": s.paper.title,
                    "path": paper_path(s),
                }
                for s in item.liked
            ],
            "terms": list(r.reason.terms),
            "authors": list(r.reason.authors),
        },
    }


@api.post(
    "/me/not-interested/{paper_id}",
    summary='Mark a paper "not interested" (or undo with ?undo=true)',
    responses=WRITE_ERRORS,
)
def not_interested_api(
    request: Request,
    token_member: MaybeTokenMember,
    viewer: ViewerDep,
    accounts: AccountsDep,
    paper_id: Annotated[str, PathParam(max_length=64)],
    undo: bool = False,
) -> dict[str, Any]:
    """``{paper_id}`` is an arXiv id or ``pfN``, like the rest of the community API.
    Without an API token the session cookie counts only with the page's CSRF token
    (``X-CSRF-Token``), as on every form."""
    member = token_member or permissions.require(viewer.member, "read_collection")
    if token_member is None:
        require_csrf(request, viewer)
    with accounts.engine.connect() as conn:
        stored = find_paper(conn, paper_id)
    mark(accounts, member, stored.id, not undo)
    return {"ok": True, "paper_id": stored.id, "not_interested": not undo}


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@feeds.get(
    "/for-you/{token}.atom",
    summary='A member\'s private "For you" Atom feed (revocable token URL)',
    response_class=Response,
    responses={
        200: {"description": "the feed", "content": {"application/atom+xml": {}}},
        404: {"model": ErrorOut, "description": "no such feed (the token was revoked or mistyped)"},
        400: {"model": ErrorOut, "description": "invalid input"},
    },
)
def for_you_feed(request: Request, token: Annotated[str, PathParam(max_length=100)]) -> Response:
    hub = hub_of(request)
    with hub.engine.connect() as conn:
        user_id = rec.user_by_feed_token(conn, feed_token_hash(token))
    if user_id is None:
        raise NotFoundError("no such feed: the link was revoked or mistyped")
    shown = services_of(request).recommender.for_you(
        user_id, now=hub.now(), limit=hub.settings.recommend_count
    )
    meta = FeedMeta(
        title="paperfeed · For you",
        self_url=hub.absolute(request.url.path),
        page_url=hub.absolute("/for-you"),
        feed_id=hub.absolute(f"/feeds/for-you/{feed_token_hash(token)[:16]}"),
        subtitle="Papers recommended from your votes, saves and seeds",
    )
    body = render_atom(
        meta,
        [item.stored for item in shown.items],
        base_url=hub.settings.base_url.rstrip("/"),
        now=hub.now(),
    )
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
    )


@pages.post("/papers/id/{paper_id}/viewed", status_code=204)
def viewed(paper_id: RowId, viewer: CsrfDep, accounts: AccountsDep) -> Response:
    """The paper page tells (htmx, on load) that a member opened it: a weak positive
    signal, written once (a read first, so repeated views take no write lock)."""
    member = permissions.require(viewer.member, "read_collection")
    with accounts.engine.connect() as conn:
        if rec.has_signal(conn, user_id=member.id, paper_id=paper_id, kind="view"):
            return Response(status_code=204)
    with writing(accounts.engine) as conn:
        if store.get_by_id(conn, paper_id) is None:
            raise NotFoundError(f"no paper {paper_id}")
        rec.add_signal(
            conn, user_id=member.id, paper_id=paper_id, kind="view", now=accounts.clock.now()
        )
    return Response(status_code=204)
