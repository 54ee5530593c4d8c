"""Upvotes: a form on every paper card (works without JavaScript; htmx swaps the button
in place) and ``POST /api/papers/{paper_id}/upvote`` for token holders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.deliver.web.cards import Social
from paperfeed.deliver.web.deps import AccountsDep, CsrfDep, TokenMember, back_to, render
from paperfeed.deliver.web.errors import WRITE_ERRORS
from paperfeed.deliver.web.ids import RowId
from paperfeed.models import StoredPaper
from paperfeed.rank.trending import total_votes
from paperfeed.store import votes
from paperfeed.store.engine import writing
from paperfeed.store.users import Member

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["community"])


class VoteIn(BaseModel):
    upvoted: bool | None = None


class VoteOut(BaseModel):
    upvotes: int
    upvoted: bool


def vote(
    accounts: AccountsDep, who: Member | None, ident: str, on: bool | None
) -> tuple[StoredPaper, Social]:
    """Set (``on``) or toggle (``None``) the member's vote; the paper's votes after it."""
    member = permissions.require(who, "vote")
    now = accounts.clock.now()
    with writing(accounts.engine) as conn:
        stored = find_paper(conn, ident)
        if on is None:
            upvoted = votes.toggle(conn, paper_id=stored.id, user_id=member.id, now=now)
        else:
            votes.set_vote(conn, paper_id=stored.id, user_id=member.id, on=on, now=now)
            upvoted = on
        hub_votes = votes.count(conn, stored.id)
    return stored, Social(total_votes(stored, hub_votes), upvoted, None)


@pages.post("/papers/id/{paper_id}/upvote", response_class=HTMLResponse)
def upvote_form(
    request: Request,
    paper_id: RowId,
    viewer: CsrfDep,
    accounts: AccountsDep,
    on: Annotated[str, Form()] = "",
) -> Response:
    """Turn the vote on (``on=1``) or off (``on=0``); a missing ``on`` toggles."""
    wanted = {"1": True, "0": False}.get(on)
    stored, social = vote(
        accounts, permissions.require(viewer.member, "vote"), str(paper_id), wanted
    )
    if request.headers.get("HX-Request") == "true":
        return render(request, "_vote_fragment.html", {"stored": stored, "s": social})
    return RedirectResponse(back_to(request), status_code=303)


@api.post(
    "/papers/{paper_id}/upvote",
    response_model=VoteOut,
    summary="Toggle (or set) the token holder's upvote",
    responses=WRITE_ERRORS,
)
def upvote_api(
    member: TokenMember,
    accounts: AccountsDep,
    paper_id: Annotated[str, PathParam(max_length=64)],
    body: Annotated[VoteIn | None, Body()] = None,
) -> dict[str, Any]:
    """Without a body (or ``upvoted: null``) the vote toggles; ``{"upvoted": true|false}``
    sets it. Answers the paper's votes afterwards and whether the member's vote is on."""
    _, social = vote(accounts, member, paper_id, body.upvoted if body else None)
    return {"upvotes": social.votes, "upvoted": social.upvoted}
