"""Comment forms on paper pages and ``/api/papers/{paper_id}/comments``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.deliver.community.comments import MAX_BODY
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.deliver.render.markdown import render_markdown
from paperfeed.deliver.render.papers import paper_path
from paperfeed.deliver.web.deps import (
    AccountsDep,
    CommentsDep,
    CsrfDep,
    TokenMember,
    ViewerDep,
    render,
)
from paperfeed.deliver.web.errors import WRITE_ERRORS
from paperfeed.deliver.web.ids import RowId
from paperfeed.models import StoredPaper
from paperfeed.store import comments as store
from paperfeed.store.comments import Comment

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["community"])
BodyField = Annotated[str, Form(max_length=MAX_BODY + 1000)]


def _paper(accounts: AccountsDep, ident: str) -> StoredPaper:
    with accounts.engine.connect() as conn:
        return find_paper(conn, ident)


def _back(accounts: AccountsDep, paper_id: RowId, comment_id: RowId) -> Response:
    """Back to the comment on its paper's page."""
    stored = _paper(accounts, str(paper_id))
    return RedirectResponse(f"{paper_path(stored)}#c{comment_id}", status_code=303)


@pages.post("/papers/id/{paper_id}/comments")
def post_comment(
    paper_id: RowId,
    viewer: CsrfDep,
    accounts: AccountsDep,
    comments: CommentsDep,
    body: BodyField = "",
    parent_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> Response:
    stored = _paper(accounts, str(paper_id))
    new_id = comments.post(viewer.member, stored.id, body, parent_id)
    return _back(accounts, stored.id, new_id)


@pages.get("/comments/{comment_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, comment_id: RowId, viewer: ViewerDep, comments: CommentsDep
) -> Response:
    comment = comments.editable(viewer.member, comment_id)
    return render(request, "comment_edit.html", {"comment": comment})


@pages.post("/comments/{comment_id}/edit")
def edit_comment(
    comment_id: RowId,
    viewer: CsrfDep,
    accounts: AccountsDep,
    comments: CommentsDep,
    body: BodyField = "",
) -> Response:
    comment = comments.edit(viewer.member, comment_id, body)
    return _back(accounts, comment.paper_id, comment.id)


@pages.post("/comments/{comment_id}/delete")
def delete_comment(
    comment_id: RowId, viewer: CsrfDep, accounts: AccountsDep, comments: CommentsDep
) -> Response:
    comment = comments.delete(viewer.member, comment_id)
    return _back(accounts, comment.paper_id, comment.id)


@pages.post("/comments/{comment_id}/hide")
def hide_comment(
    comment_id: RowId,
    viewer: CsrfDep,
    accounts: AccountsDep,
    comments: CommentsDep,
    hidden: Annotated[str, Form()] = "1",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    comment = comments.hide(viewer.member, comment_id, hidden != "0", reason)
    return _back(accounts, comment.paper_id, comment.id)


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=MAX_BODY, description="Markdown")
    parent_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="the top-level comment this replies to"
    )


class CommentOut(BaseModel):
    id: int
    paper: str
    author: str
    parent_id: int | None
    body: str = Field(description="the Markdown as written")
    html: str = Field(description="the Markdown rendered and sanitised")
    createdAt: str
    editedAt: str | None


class CommentList(BaseModel):
    data: list[CommentOut]
    count: int
    next: None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def comment_json(comment: Comment, stored: StoredPaper) -> dict[str, Any]:
    return {
        "id": comment.id,
        "paper": stored.paper.arxiv_id or f"pf{stored.id}",
        "author": comment.username,
        "parent_id": comment.parent_id,
        "body": comment.body,
        "html": str(render_markdown(comment.body)),
        "createdAt": _iso(comment.created_at),
        "editedAt": _iso(comment.edited_at),
    }


@api.post(
    "/papers/{paper_id}/comments",
    response_model=CommentOut,
    status_code=201,
    summary="Comment on a paper (or reply to a comment)",
    responses=WRITE_ERRORS,
)
def post_comment_api(
    member: TokenMember,
    accounts: AccountsDep,
    comments: CommentsDep,
    paper_id: Annotated[str, PathParam(max_length=64)],
    body: CommentIn,
) -> dict[str, Any]:
    """A comment in Markdown; ``parent_id`` makes it a reply (one level deep)."""
    stored = _paper(accounts, paper_id)
    new_id = comments.post(member, stored.id, body.body, body.parent_id)
    with accounts.engine.connect() as conn:
        comment = store.get(conn, new_id)
    assert comment is not None
    return comment_json(comment, stored)


@api.get(
    "/papers/{paper_id}/comments",
    response_model=CommentList,
    summary="A paper's comments, oldest first",
    responses=WRITE_ERRORS,
)
def list_comments_api(
    accounts: AccountsDep, paper_id: Annotated[str, PathParam(max_length=64)]
) -> dict[str, Any]:
    """Visible comments (deleted and hidden ones are left out)."""
    stored = _paper(accounts, paper_id)
    with accounts.engine.connect() as conn:
        found = [c for c in store.thread(conn, stored.id) if c.visible]
    data = [comment_json(c, stored) for c in found]
    return {"data": data, "count": len(data), "next": None}
