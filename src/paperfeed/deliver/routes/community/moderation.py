"""The admin page, moderators' forms and the moderation API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.deliver.community import permissions
from paperfeed.deliver.web.deps import (
    AccountsDep,
    CommentsDep,
    CsrfDep,
    ModerationDep,
    TokenMember,
    ViewerDep,
    back_to,
    render,
)
from paperfeed.deliver.web.errors import WRITE_ERRORS
from paperfeed.deliver.web.ids import RowId
from paperfeed.store import audit, moderation, users

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["community"])
Reason = Annotated[str, Form(max_length=500)]


@pages.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, viewer: ViewerDep, accounts: AccountsDep) -> Response:
    """Members, hidden papers and the audit log, for moderators and admins."""
    if viewer.member is None:
        return RedirectResponse("/account/login?next=/admin", status_code=303)
    member = permissions.require(viewer.member, "suspend")
    with accounts.engine.connect() as conn:
        context = {
            "member": member,
            "members": users.list_users(conn),
            "hidden": moderation.hidden_list(conn),
            "log": audit.recent(conn),
        }
    return render(request, "admin.html", context)


@pages.post("/papers/id/{paper_id}/hide")
def hide_paper_form(
    request: Request,
    paper_id: RowId,
    viewer: CsrfDep,
    moderator: ModerationDep,
    hidden: Annotated[str, Form()] = "1",
    reason: Reason = "",
) -> Response:
    moderator.hide_paper(viewer.member, str(paper_id), hidden != "0", reason)
    return RedirectResponse(back_to(request, "/admin"), status_code=303)


@pages.post("/admin/users/{user_id}/suspend")
def suspend_form(
    user_id: RowId,
    viewer: CsrfDep,
    moderator: ModerationDep,
    suspended: Annotated[str, Form()] = "1",
    reason: Reason = "",
) -> Response:
    moderator.suspend(viewer.member, user_id, suspended != "0", reason)
    return RedirectResponse("/admin", status_code=303)


@pages.post("/admin/users/{user_id}/role")
def role_form(
    user_id: RowId,
    viewer: CsrfDep,
    moderator: ModerationDep,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    moderator.set_role(viewer.member, user_id, role)
    return RedirectResponse("/admin", status_code=303)


class HideIn(BaseModel):
    hidden: bool = True
    reason: str = Field("", max_length=500)


class HiddenOut(BaseModel):
    id: str
    hidden: bool


@api.post(
    "/papers/{paper_id}/hide",
    response_model=HiddenOut,
    summary="Moderators: hide a paper from every list (or show it again)",
    responses=WRITE_ERRORS,
)
def hide_paper_api(
    member: TokenMember,
    moderator: ModerationDep,
    paper_id: Annotated[str, PathParam(max_length=64)],
    body: HideIn,
) -> dict[str, Any]:
    """403 unless the token holder is a moderator or an admin."""
    stored = moderator.hide_paper(member, paper_id, body.hidden, body.reason)
    return {"id": stored.paper.arxiv_id or f"pf{stored.id}", "hidden": body.hidden}


@api.post(
    "/comments/{comment_id}/hide",
    response_model=HiddenOut,
    summary="Moderators: hide a comment (or show it again)",
    responses=WRITE_ERRORS,
)
def hide_comment_api(
    member: TokenMember, comments: CommentsDep, comment_id: RowId, body: HideIn
) -> dict[str, Any]:
    """403 unless the token holder is a moderator or an admin."""
    comment = comments.hide(member, comment_id, body.hidden, body.reason)
    return {"id": str(comment.id), "hidden": body.hidden}
