"""Steering one's recommendations on ``/account/recommendations``: exploration share,
pause, reset, exclusion filters, topics, seeds (pasted ids or a BibTeX / RIS file) and
the private feed's token. Forms only (they work without JavaScript)."""

from __future__ import annotations

import secrets
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.deliver.community import permissions
from paperfeed.deliver.routes.reading.for_you import feed_token_hash
from paperfeed.deliver.web.deps import AccountsDep, CsrfDep, ViewerDep
from paperfeed.deliver.web.forms import form_page, shown_again
from paperfeed.errors import InvalidInputError, PaperfeedError
from paperfeed.rank.recommend_seeds import parse_references
from paperfeed.store import follows as follows_store
from paperfeed.store import papers as store
from paperfeed.store import recommendations as rec
from paperfeed.store.engine import writing
from paperfeed.store.users import Member

router = APIRouter(include_in_schema=False)
PATH = "/account/recommendations"
MAX_VALUE = 200
MAX_UPLOAD = 2 * 2**20


def _back(note: str = "") -> Response:
    return RedirectResponse(PATH + (f"?done={note}" if note else ""), status_code=303)


def _member(viewer: object) -> Member:
    return permissions.require(getattr(viewer, "member", None), "read_collection")


def _page(
    request: Request,
    member: Member,
    accounts: AccountsDep,
    done: str = "",
    feed_url: str = "",
    author: str = "",
    problem: PaperfeedError | None = None,
) -> Response:
    with accounts.engine.connect() as conn:
        follows = follows_store.follows_of(conn, member.id)
        profile = follows_store.name_profile(conn, author) if author else None
        signals = rec.signals_of(conn, member.id)
        has_feed = rec.has_feed_token(conn, member.id)
        seeds = [s.paper_id for s in signals.positives if s.kind == "seed"]
        seed_papers = store.read_papers(conn, seeds)
        own_topics = rec.own_topics(conn, member.id)
    context = {
        "signals": signals,
        "has_feed": has_feed,
        "seed_papers": [seed_papers[p] for p in seeds if p in seed_papers],
        "own_topics": own_topics,
        "follows": follows,
        "profile": profile,
        "done": done,
        "feed_url": feed_url,
        "nav": "for-you",
    }
    return form_page(request, "recommend_settings.html", context, problem)


def _again_on_problem(
    request: Request, member: Member, accounts: AccountsDep
) -> AbstractContextManager[None]:
    """Around a change: if it is refused, the page again with the problem."""
    return shown_again(lambda problem: _page(request, member, accounts, problem=problem))


@router.get(PATH, response_class=HTMLResponse)
def settings_page(
    request: Request, viewer: ViewerDep, accounts: AccountsDep, done: str = "", author: str = ""
) -> Response:
    """The steering page; ``?author=NAME`` shows who writes under that name (co-authors,
    categories) so that a follow can be pinned to the right person."""
    return _page(request, _member(viewer), accounts, done[:40], author=author[:MAX_VALUE])


@router.post(PATH)
def save_settings(
    viewer: CsrfDep,
    accounts: AccountsDep,
    exploration: Annotated[int, Form(ge=0, le=100)] = 10,
    paused: Annotated[str, Form()] = "",
) -> Response:
    member = _member(viewer)
    with writing(accounts.engine) as conn:
        rec.update_settings(
            conn,
            user_id=member.id,
            exploration=exploration,
            paused=paused == "1",
            now=accounts.clock.now(),
        )
    return _back("saved")


@router.post(PATH + "/reset")
def reset(viewer: CsrfDep, accounts: AccountsDep) -> Response:
    member = _member(viewer)
    with writing(accounts.engine) as conn:
        rec.reset(conn, user_id=member.id, now=accounts.clock.now())
    return _back("reset")


def _value(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > MAX_VALUE:
        raise InvalidInputError(f"give a value of 1 to {MAX_VALUE} characters")
    return cleaned


@router.post(PATH + "/exclusions")
def add_exclusion(
    request: Request,
    viewer: CsrfDep,
    accounts: AccountsDep,
    kind: Annotated[str, Form()],
    value: Annotated[str, Form()],
    remove: Annotated[str, Form()] = "",
) -> Response:
    member = _member(viewer)
    with _again_on_problem(request, member, accounts):
        if kind not in rec.EXCLUSION_KINDS:
            raise InvalidInputError(f"kind must be one of {', '.join(rec.EXCLUSION_KINDS)}")
        cleaned = _value(value)
        with writing(accounts.engine) as conn:
            change = rec.remove_exclusion if remove == "1" else rec.add_exclusion
            change(conn, user_id=member.id, kind=kind, value=cleaned, now=accounts.clock.now())
    return _back("exclusions")


@router.post(PATH + "/topics")
def change_topic(
    request: Request,
    viewer: CsrfDep,
    accounts: AccountsDep,
    query: Annotated[str, Form()],
    remove: Annotated[str, Form()] = "",
) -> Response:
    member = _member(viewer)
    with _again_on_problem(request, member, accounts):
        cleaned = _value(query)
        with writing(accounts.engine) as conn:
            change = rec.remove_topic if remove == "1" else rec.add_topic
            change(conn, user_id=member.id, query=cleaned, now=accounts.clock.now())
    return _back("topics")


@router.post(PATH + "/seeds")
async def add_seeds(
    request: Request,
    viewer: CsrfDep,
    accounts: AccountsDep,
    text: Annotated[str, Form()] = "",
    file: UploadFile | None = None,
) -> Response:
    """Seeds from pasted arXiv ids / links / DOIs, or from a BibTeX or RIS export."""
    member = _member(viewer)
    content = text
    if file is not None and file.filename:
        raw = await file.read(MAX_UPLOAD + 1)
        with _again_on_problem(request, member, accounts):
            if len(raw) > MAX_UPLOAD:
                raise InvalidInputError("the file is over 2 MB")
        content += "\n" + raw.decode("utf-8", errors="replace")
    refs = parse_references(content)
    now = accounts.clock.now()
    with writing(accounts.engine) as conn:
        matched = rec.match_references(
            conn, arxiv_ids=refs.arxiv_ids, dois=refs.dois, title_keys=refs.title_keys
        )
        for pid in matched:
            rec.add_signal(conn, user_id=member.id, paper_id=pid, kind="seed", now=now)
    return _back(f"seeds-{len(matched)}-of-{refs.found}")


@router.post(PATH + "/seeds/remove")
def remove_seed(
    viewer: CsrfDep, accounts: AccountsDep, paper_id: Annotated[int, Form(ge=1)]
) -> Response:
    member = _member(viewer)
    with writing(accounts.engine) as conn:
        rec.remove_signal(
            conn, user_id=member.id, paper_id=paper_id, kind="seed", now=accounts.clock.now()
        )
    return _back("seeds")


@router.post(PATH + "/feed")
def feed_token(
    request: Request, viewer: CsrfDep, accounts: AccountsDep, revoke: Annotated[str, Form()] = ""
) -> Response:
    """Make (or replace) the private feed's token, or revoke it: old links stop at once."""
    member = _member(viewer)
    token = None if revoke == "1" else secrets.token_urlsafe(24)
    with writing(accounts.engine) as conn:
        rec.set_feed_token(
            conn,
            user_id=member.id,
            token_hash=feed_token_hash(token) if token else None,
            now=accounts.clock.now(),
        )
    if token is None:
        return _back("feed-revoked")
    # Shown once, on this page (never put in a URL that history or logs would keep).
    url = request.app.state.hub.absolute(f"/feeds/for-you/{token}.atom")
    return _page(request, member, accounts, "feed", url)


@router.post(PATH + "/authors")
def follow_author(
    request: Request,
    viewer: CsrfDep,
    accounts: AccountsDep,
    name: Annotated[str, Form()],
    co_author: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
) -> Response:
    """Follow an author by name, optionally only where a co-author and / or a category
    also appear (for names two people share): their new papers lead "For you"."""
    member = _member(viewer)
    pinned_co = " ".join(co_author.split())[:MAX_VALUE]
    pinned_cat = category.strip()[:64]
    with _again_on_problem(request, member, accounts), writing(accounts.engine) as conn:
        if follows_store.count_follows(conn, member.id) >= follows_store.MAX_FOLLOWS:
            raise InvalidInputError(f"at most {follows_store.MAX_FOLLOWS} follows")
        follows_store.follow(
            conn,
            user_id=member.id,
            name=_value(name),
            co_author=pinned_co,
            category=pinned_cat,
            now=accounts.clock.now(),
        )
    return _back("authors")


@router.post(PATH + "/authors/remove")
def unfollow_author(
    viewer: CsrfDep, accounts: AccountsDep, follow_id: Annotated[int, Form(ge=1)]
) -> Response:
    member = _member(viewer)
    with writing(accounts.engine) as conn:
        follows_store.unfollow(
            conn, user_id=member.id, follow_id=follow_id, now=accounts.clock.now()
        )
    return _back("authors")
