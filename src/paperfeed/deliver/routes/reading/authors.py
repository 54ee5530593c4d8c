"""An author's page, ``/authors/{name}`` (#18): their papers on the hub, newest first, with
votes; a follow button for members (their new papers then lead "For you"); an Atom or
RSS feed, ``/feeds/authors/{name}.atom``. The name is matched as printed on the papers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.deliver.community import permissions
from paperfeed.deliver.render.feeds import FeedMeta
from paperfeed.deliver.routes.api.feeds import FEED_RESPONSES, Format, _respond
from paperfeed.deliver.web.cards import load_cards
from paperfeed.deliver.web.deps import CsrfDep, HubDep, ViewerDep, render
from paperfeed.errors import InvalidInputError, NotFoundError
from paperfeed.models import StoredPaper
from paperfeed.store import authors as store
from paperfeed.store import follows
from paperfeed.store import papers as paper_store
from paperfeed.store.engine import writing

pages = APIRouter(include_in_schema=False)
feeds = APIRouter(prefix="/feeds", tags=["feeds"])
PAGE_SIZE = 50
Name = Annotated[str, PathParam(min_length=1, max_length=200, description="as printed")]


def author_path(name: str) -> str:
    return "/authors/" + quote(name, safe="")


def _papers(hub: HubDep, name: str, page: int) -> tuple[list[StoredPaper], int]:
    if page < 0:
        raise InvalidInputError("p must be 0 or more")
    with hub.engine.connect() as conn:
        total = store.count_by(conn, name)
        ids = store.papers_by(conn, name, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        found = paper_store.read_papers(conn, ids)
    return [found[i] for i in ids if i in found], total


@pages.get("/authors/{name}", response_class=HTMLResponse)
def author_page(
    request: Request, hub: HubDep, viewer: ViewerDep, name: Name, p: int = 0
) -> Response:
    name = " ".join(name.split())
    papers, total = _papers(hub, name, p)
    if total == 0:
        raise NotFoundError(f"no paper on this hub lists {name[:80]!r} as an author")
    followed = False
    with hub.engine.connect() as conn:
        cards = load_cards(conn, papers, viewer.member)
        if viewer.member is not None:
            key = follows.name_key(name)
            followed = any(
                follows.name_key(f.name) == key and not f.co_author and not f.category
                for f in follows.follows_of(conn, viewer.member.id)
            )
    context = {
        "name": name,
        "papers": papers,
        "cards": cards,
        "total": total,
        "page": p,
        "more": (p + 1) * PAGE_SIZE < total,
        "followed": followed,
        "feed": f"/feeds{author_path(name)}.atom",
    }
    return render(request, "author.html", context)


@pages.post("/authors/{name}/follow")
def follow_author(hub: HubDep, viewer: CsrfDep, name: Name) -> Response:
    """Follow this name (any co-author, any category); the author's page again."""
    member = permissions.require(viewer.member, "read_collection")
    name = " ".join(name.split())
    with writing(hub.engine) as conn:
        if follows.count_follows(conn, member.id) >= follows.MAX_FOLLOWS:
            raise InvalidInputError(f"at most {follows.MAX_FOLLOWS} follows")
        follows.follow(conn, user_id=member.id, name=name, co_author="", category="", now=hub.now())
    return RedirectResponse(author_path(name), status_code=303)


@pages.post("/authors/{name}/unfollow")
def unfollow_author(hub: HubDep, viewer: CsrfDep, name: Name) -> Response:
    member = permissions.require(viewer.member, "read_collection")
    name = " ".join(name.split())
    key = follows.name_key(name)
    with writing(hub.engine) as conn:
        for f in follows.follows_of(conn, member.id):
            if follows.name_key(f.name) == key and not f.co_author and not f.category:
                follows.unfollow(conn, user_id=member.id, follow_id=f.id, now=hub.now())
    return RedirectResponse(author_path(name), status_code=303)


@feeds.get(
    "/authors/{name}.{fmt}",
    summary="An author's papers on the hub, newest first (Atom or RSS)",
    response_class=Response,
    responses=FEED_RESPONSES,
)
def author_feed(request: Request, hub: HubDep, name: Name, fmt: Format) -> Response:
    name = " ".join(name.split())
    papers, _ = _papers(hub, name, 0)
    meta = FeedMeta(
        title=f"paperfeed · papers by {name}",
        self_url=hub.absolute(request.url.path),
        page_url=hub.absolute(author_path(name)),
        feed_id=hub.absolute(f"/feeds{author_path(name)}"),
    )
    return _respond(request, hub, fmt, meta, papers, f"author:{name}")
