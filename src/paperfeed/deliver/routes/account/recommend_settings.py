"""Steering one's recommendations on ``/account/recommendations``: exploration share,
pause, reset, exclusion filters, topics, seeds (pasted ids or a BibTeX / RIS file) and
the private feed's token. Forms only (they work without JavaScript)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperfeed.deliver.community.recommend_settings import MAX_VALUE, RecommendSettings
from paperfeed.deliver.routes.reading.for_you import feed_token_hash
from paperfeed.deliver.web.deps import CsrfDep, RecommendSettingsDep, ViewerDep
from paperfeed.deliver.web.forms import form_page, shown_again
from paperfeed.errors import InvalidInputError, PaperfeedError
from paperfeed.store.users import Member

router = APIRouter(include_in_schema=False)
PATH = "/account/recommendations"
MAX_UPLOAD = 2 * 2**20


def _back(note: str = "") -> Response:
    return RedirectResponse(PATH + (f"?done={note}" if note else ""), status_code=303)


def _page(
    request: Request,
    settings: RecommendSettings,
    who: Member | None,
    done: str = "",
    feed_url: str = "",
    author: str = "",
    problem: PaperfeedError | None = None,
) -> Response:
    steering = settings.read(who, author)
    context = {
        "signals": steering.signals,
        "has_feed": steering.has_feed,
        "seed_papers": steering.seed_papers,
        "own_topics": steering.own_topics,
        "follows": steering.follows,
        "profile": steering.profile,
        "done": done,
        "feed_url": feed_url,
        "nav": "for-you",
    }
    return form_page(request, "recommend_settings.html", context, problem)


@router.get(PATH, response_class=HTMLResponse)
def settings_page(
    request: Request,
    viewer: ViewerDep,
    settings: RecommendSettingsDep,
    done: str = "",
    author: str = "",
) -> Response:
    """The steering page; ``?author=NAME`` shows who writes under that name (co-authors,
    categories) so that a follow can be pinned to the right person."""
    return _page(request, settings, viewer.member, done[:40], author=author[:MAX_VALUE])


@router.post(PATH)
def save_settings(
    viewer: CsrfDep,
    settings: RecommendSettingsDep,
    exploration: Annotated[int, Form(ge=0, le=100)] = 10,
    paused: Annotated[str, Form()] = "",
) -> Response:
    settings.save(viewer.member, exploration=exploration, paused=paused == "1")
    return _back("saved")


@router.post(PATH + "/reset")
def reset(viewer: CsrfDep, settings: RecommendSettingsDep) -> Response:
    settings.reset(viewer.member)
    return _back("reset")


@router.post(PATH + "/exclusions")
def add_exclusion(
    request: Request,
    viewer: CsrfDep,
    settings: RecommendSettingsDep,
    kind: Annotated[str, Form()],
    value: Annotated[str, Form()],
    remove: Annotated[str, Form()] = "",
) -> Response:
    with shown_again(_page, request, settings, viewer.member):
        settings.exclude(viewer.member, kind, value, remove=remove == "1")
    return _back("exclusions")


@router.post(PATH + "/topics")
def change_topic(
    request: Request,
    viewer: CsrfDep,
    settings: RecommendSettingsDep,
    query: Annotated[str, Form()],
    remove: Annotated[str, Form()] = "",
) -> Response:
    with shown_again(_page, request, settings, viewer.member):
        settings.change_topic(viewer.member, query, remove=remove == "1")
    return _back("topics")


@router.post(PATH + "/seeds")
async def add_seeds(
    request: Request,
    viewer: CsrfDep,
    settings: RecommendSettingsDep,
    text: Annotated[str, Form()] = "",
    file: UploadFile | None = None,
) -> Response:
    """Seeds from pasted arXiv ids / links / DOIs, or from a BibTeX or RIS export."""
    content = text
    if file is not None and file.filename:
        raw = await file.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            problem = InvalidInputError("the file is over 2 MB")
            return await run_in_threadpool(_page, request, settings, viewer.member, problem=problem)
        content += "\n" + raw.decode("utf-8", errors="replace")
    matched, found = await run_in_threadpool(settings.add_seeds, viewer.member, content)
    return _back(f"seeds-{matched}-of-{found}")


@router.post(PATH + "/seeds/remove")
def remove_seed(
    viewer: CsrfDep, settings: RecommendSettingsDep, paper_id: Annotated[int, Form(ge=1)]
) -> Response:
    settings.remove_seed(viewer.member, paper_id)
    return _back("seeds")


@router.post(PATH + "/feed")
def feed_token(
    request: Request,
    viewer: CsrfDep,
    settings: RecommendSettingsDep,
    revoke: Annotated[str, Form()] = "",
) -> Response:
    """Make (or replace) the private feed's token, or revoke it: old links stop at once."""
    token = None if revoke == "1" else secrets.token_urlsafe(24)
    settings.set_feed_token(viewer.member, feed_token_hash(token) if token else None)
    if token is None:
        return _back("feed-revoked")
    # Shown once, on this page (never put in a URL that history or logs would keep).
    url = request.app.state.hub.absolute(f"/feeds/for-you/{token}.atom")
    return _page(request, settings, viewer.member, "feed", url)


@router.post(PATH + "/authors")
def follow_author(
    request: Request,
    viewer: CsrfDep,
    settings: RecommendSettingsDep,
    name: Annotated[str, Form()],
    co_author: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
) -> Response:
    """Follow an author by name, optionally only where a co-author and / or a category
    also appear (for names two people share): their new papers lead "For you"."""
    with shown_again(_page, request, settings, viewer.member):
        settings.follow(viewer.member, name, co_author=co_author, category=category)
    return _back("authors")


@router.post(PATH + "/authors/remove")
def unfollow_author(
    viewer: CsrfDep, settings: RecommendSettingsDep, follow_id: Annotated[int, Form(ge=1)]
) -> Response:
    settings.unfollow(viewer.member, follow_id)
    return _back("authors")
