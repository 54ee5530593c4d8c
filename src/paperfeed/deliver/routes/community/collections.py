"""Collections: pages, an Atom feed of each public one, and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.collections import MAX_TEXT, MAX_TITLE, Shown
from paperfeed.deliver.render.feeds import Added, FeedMeta
from paperfeed.deliver.render.papers import paper_json
from paperfeed.deliver.routes.api.feeds import FEED_RESPONSES, _respond
from paperfeed.deliver.web.cards import load_cards
from paperfeed.deliver.web.deps import (
    CollectionsDep,
    CsrfDep,
    MaybeTokenMember,
    TokenMember,
    ViewerDep,
    hub_of,
    render,
)
from paperfeed.deliver.web.errors import WRITE_ERRORS
from paperfeed.deliver.web.hub import Hub
from paperfeed.deliver.web.ids import RowId
from paperfeed.errors import NotFoundError
from paperfeed.store.collections import Collection

pages = APIRouter(include_in_schema=False)
feeds = APIRouter(prefix="/feeds", tags=["feeds"])
api = APIRouter(prefix="/api", tags=["community"])
Text = Annotated[str, Form(max_length=MAX_TEXT + 100)]


def _to(collection_id: RowId) -> Response:
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@pages.get("/collections", response_class=HTMLResponse)
def public_page(request: Request, viewer: ViewerDep, collections: CollectionsDep) -> Response:
    mine = collections.mine(viewer.member) if viewer.member else []
    context = {
        "public": collections.public(),
        "mine": mine,
        "may": permissions.allowed_actions(viewer.member),
    }
    return render(request, "collections.html", context)


@pages.post("/collections")
def create_form(
    viewer: CsrfDep,
    collections: CollectionsDep,
    title: Annotated[str, Form(max_length=MAX_TITLE + 100)] = "",
    description: Text = "",
    public: Annotated[str, Form()] = "",
) -> Response:
    made = collections.create(viewer.member, title, description, public == "1")
    return _to(made.id)


@pages.get("/collections/{collection_id}", response_class=HTMLResponse)
def collection_page(
    request: Request, collection_id: RowId, viewer: ViewerDep, collections: CollectionsDep
) -> Response:
    shown = collections.show(viewer.member, collection_id)
    owner = viewer.member is not None and viewer.member.id == shown.collection.user_id
    with collections.engine.connect() as conn:
        cards = load_cards(conn, [stored for stored, _ in shown.entries], viewer.member)
    return render(request, "collection.html", {"shown": shown, "owner": owner, "cards": cards})


@pages.post("/collections/{collection_id}/edit")
def edit_form(
    collection_id: RowId,
    viewer: CsrfDep,
    collections: CollectionsDep,
    title: Annotated[str, Form(max_length=MAX_TITLE + 100)] = "",
    description: Text = "",
    public: Annotated[str, Form()] = "",
) -> Response:
    collections.change(viewer.member, collection_id, title, description, public == "1")
    return _to(collection_id)


@pages.post("/collections/{collection_id}/delete")
def delete_form(collection_id: RowId, viewer: CsrfDep, collections: CollectionsDep) -> Response:
    collections.delete(viewer.member, collection_id)
    return RedirectResponse("/collections", status_code=303)


@pages.post("/collections/{collection_id}/papers")
def put_form(
    collection_id: RowId,
    viewer: CsrfDep,
    collections: CollectionsDep,
    paper: Annotated[str, Form(max_length=300)] = "",
    note: Text = "",
) -> Response:
    collections.put(viewer.member, collection_id, paper, note)
    return _to(collection_id)


@pages.post("/papers/id/{paper_id}/collect")
def collect_form(
    paper_id: RowId,
    viewer: CsrfDep,
    collections: CollectionsDep,
    collection_id: Annotated[int, Form(ge=1, le=2**31 - 1)] = 1,
    note: Text = "",
) -> Response:
    """The paper page's "add to a collection" form."""
    collections.put(viewer.member, collection_id, str(paper_id), note)
    return _to(collection_id)


@pages.post("/collections/{collection_id}/papers/{paper_id}/remove")
def remove_form(
    collection_id: RowId, paper_id: RowId, viewer: CsrfDep, collections: CollectionsDep
) -> Response:
    collections.take_out(viewer.member, collection_id, paper_id)
    return _to(collection_id)


@feeds.get(
    "/collections/{collection_id}.{fmt}",
    summary="A public collection as a feed",
    response_class=Response,
    responses={**FEED_RESPONSES, 404: {"description": "no such public collection"}},
)
def collection_feed(
    request: Request,
    collection_id: RowId,
    fmt: Annotated[str, PathParam(description="atom or rss")],
    collections: CollectionsDep,
) -> Response:
    """The papers of a public collection, most recently added first; each entry dated
    when it was added, with the member's note."""
    hub: Hub = hub_of(request)
    shown = collections.show(None, collection_id)
    c = shown.collection
    meta = FeedMeta(
        title=f"paperfeed · {c.title} (a collection by {c.username})",
        self_url=hub.absolute(request.url.path),
        page_url=hub.absolute(f"/collections/{c.id}"),
        feed_id=hub.absolute(f"/collections/{c.id}"),
        subtitle=c.description or None,
        author=c.username,
    )
    papers = [stored for stored, _ in shown.entries]
    added = {
        stored.id: Added(item.added_at, c.username, item.note) for stored, item in shown.entries
    }
    return _respond(
        request, hub, fmt, meta, papers, f"collection:{c.id}", added=added, changed=c.updated_at
    )


# -- API ------------------------------------------------------------------------------------


class CollectionIn(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str = Field("", max_length=MAX_TEXT)
    public: bool = False


class ItemIn(BaseModel):
    paper: str = Field(max_length=300, description="arXiv id or pfN")
    note: str = Field("", max_length=MAX_TEXT)


class CollectionOut(BaseModel):
    id: int
    owner: str
    title: str
    description: str
    public: bool
    size: int
    url: str
    feed: str | None


class ItemOut(BaseModel):
    note: str
    addedAt: str
    paper: dict[str, Any]


class CollectionFull(CollectionOut):
    papers: list[ItemOut]


class CollectionList(BaseModel):
    data: list[CollectionOut]
    count: int
    next: None = None


def collection_json(c: Collection) -> dict[str, Any]:
    return {
        "id": c.id,
        "owner": c.username,
        "title": c.title,
        "description": c.description,
        "public": c.public,
        "size": c.size,
        "url": f"/collections/{c.id}",
        "feed": f"/feeds/collections/{c.id}.atom" if c.public else None,
    }


def full_json(shown: Shown) -> dict[str, Any]:
    papers = [
        {
            "note": item.note,
            "addedAt": item.added_at.isoformat().replace("+00:00", "Z"),
            "paper": paper_json(stored),
        }
        for stored, item in shown.entries
    ]
    return {**collection_json(shown.collection), "papers": papers}


@api.get("/collections", response_model=CollectionList, responses=WRITE_ERRORS)
def my_collections(member: TokenMember, collections: CollectionsDep) -> dict[str, Any]:
    """The token holder's collections, public and private."""
    data = [collection_json(c) for c in collections.mine(member)]
    return {"data": data, "count": len(data), "next": None}


@api.post("/collections", response_model=CollectionOut, status_code=201, responses=WRITE_ERRORS)
def create_collection(
    member: TokenMember, collections: CollectionsDep, body: CollectionIn
) -> dict[str, Any]:
    """Create a collection (private unless ``public`` is true)."""
    return collection_json(collections.create(member, body.title, body.description, body.public))


@api.get("/collections/{collection_id}", response_model=CollectionFull, responses=WRITE_ERRORS)
def get_collection(
    collection_id: RowId,
    collections: CollectionsDep,
    member: MaybeTokenMember,
) -> dict[str, Any]:
    """A collection with its papers and notes: public ones for anybody, private ones
    for their owner's token only (404 otherwise)."""
    return full_json(collections.show(member, collection_id))


@api.delete("/collections/{collection_id}", status_code=204, responses=WRITE_ERRORS)
def delete_collection(
    collection_id: RowId, member: TokenMember, collections: CollectionsDep
) -> Response:
    """Delete one of the token holder's collections."""
    collections.delete(member, collection_id)
    return Response(status_code=204)


@api.post(
    "/collections/{collection_id}/papers",
    response_model=CollectionFull,
    responses=WRITE_ERRORS,
)
def put_paper(
    collection_id: RowId, member: TokenMember, collections: CollectionsDep, body: ItemIn
) -> dict[str, Any]:
    """Add a paper with a note (or change the note of a paper already there)."""
    collections.put(member, collection_id, body.paper, body.note)
    return full_json(collections.show(member, collection_id))


@api.delete(
    "/collections/{collection_id}/papers/{paper_id}", status_code=204, responses=WRITE_ERRORS
)
def remove_paper(
    collection_id: RowId, paper_id: str, member: TokenMember, collections: CollectionsDep
) -> Response:
    """Take a paper (arXiv id or pfN) out of the collection."""
    shown = collections.show(member, collection_id)
    match = [s.id for s, _ in shown.entries if paper_id in (s.paper.arxiv_id, f"pf{s.id}")]
    if not match:
        raise NotFoundError("that paper is not in this collection")
    collections.take_out(member, collection_id, match[0])
    return Response(status_code=204)
