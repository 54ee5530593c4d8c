"""Submitting a paper: the form at ``/submit`` and ``POST /api/papers/submit``."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.deliver import rate_limit
from paperfeed.deliver.community import permissions
from paperfeed.deliver.render.papers import paper_json, paper_path
from paperfeed.deliver.routes.api.json_api import PaperOut
from paperfeed.deliver.web.deps import CsrfDep, TokenMember, ViewerDep, hub_of, render
from paperfeed.deliver.web.errors import WRITE_ERRORS
from paperfeed.deliver.web.hub import Hub
from paperfeed.errors import PaperfeedError
from paperfeed.ingest.submission import submit
from paperfeed.models import StoredPaper
from paperfeed.store.engine import writing
from paperfeed.store.users import Member

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["community"])


class SubmitIn(BaseModel):
    arxiv_id: str = Field(max_length=300, description="an arXiv id or an arxiv.org URL")


class SubmittedOut(PaperOut):
    submittedBy: str


async def _submit(request: Request, member: Member | None, reference: str) -> StoredPaper:
    """Submit after counting the attempt against the member's hourly limit; waiting for
    arXiv holds no server thread (see :mod:`paperfeed.ingest.submission`)."""
    who = permissions.require(member, "submit")
    hub: Hub = hub_of(request)
    await anyio.to_thread.run_sync(_count_attempt, hub, who)

    def embed(ids: list[int]) -> None:
        hub.semantic.embed_papers(ids)

    return await submit(
        hub.engine,
        hub.settings,
        hub.clock,
        user_id=who.id,
        reference=reference,
        today=hub.today(),
        after_batch=embed if hub.settings.embed_on_ingest else None,
    )


def _count_attempt(hub: Hub, member: Member) -> None:
    rule = rate_limit.Rule("submit", hub.settings.submission_limit, rate_limit.SUBMISSION_WINDOW)
    with writing(hub.engine) as conn:
        rate_limit.hit(conn, rule, str(member.id), hub.clock.now(), "too many submissions")


@pages.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request, viewer: ViewerDep) -> Response:
    if viewer.member is None:
        return RedirectResponse("/account/login?next=/submit", status_code=303)
    return render(request, "submit.html", {"problem": None, "value": ""})


@pages.post("/submit", response_class=HTMLResponse)
async def submit_form(
    request: Request, viewer: CsrfDep, arxiv_id: Annotated[str, Form(max_length=300)] = ""
) -> Response:
    try:
        stored = await _submit(request, viewer.member, arxiv_id)
    except PaperfeedError as exc:
        context = {"problem": str(exc), "value": arxiv_id}
        return render(request, "submit.html", context, status=exc.http_status)
    return RedirectResponse(paper_path(stored), status_code=303)


@api.post(
    "/papers/submit",
    response_model=SubmittedOut,
    status_code=201,
    summary="Submit a paper to today's list",
    responses={
        **WRITE_ERRORS,
        429: {"description": "too many submissions (PAPERFEED_SUBMISSION_LIMIT per hour)"},
        502: {"description": "the arXiv API failed or answered for another paper"},
        503: {"description": "too many arXiv look-ups are waiting; try again in a minute"},
        504: {"description": "arXiv did not answer in time; the look-up goes on, so try again"},
    },
)
async def submit_api(request: Request, member: TokenMember, body: SubmitIn) -> dict[str, Any]:
    """Feature the paper on today's daily list, submitted by the token holder. A paper the
    hub stores already is featured without asking arXiv. Fails with 409 when it was featured
    already, 400 when it is older than the submission window, 504 when arXiv is slow."""
    stored = await _submit(request, member, body.arxiv_id)
    return {**paper_json(stored), "submittedBy": member.username}
