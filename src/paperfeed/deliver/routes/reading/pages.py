"""Server-rendered pages. Reading works without JavaScript; htmx only loads more."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Connection

from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.comments import MAX_BODY
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.deliver.render.markdown import render_markdown
from paperfeed.deliver.render.papers import paper_path
from paperfeed.deliver.web.cards import NO_CARDS, load_cards
from paperfeed.deliver.web.deps import CsrfDep, HubDep, render, viewer_of
from paperfeed.deliver.web.hub import Hub
from paperfeed.deliver.web.paper_view import load_paper_view, paper_hidden, withheld_from
from paperfeed.errors import InvalidInputError, InvalidQueryError, NotFoundError, PaperfeedError
from paperfeed.index.query import Query as SearchQuery
from paperfeed.index.query import parse_query
from paperfeed.models import Hit, StoredPaper, split_arxiv_id
from paperfeed.rank.daily import parse_day
from paperfeed.rank.lists import (
    Period,
    day_period,
    month_of,
    month_period,
    period_list,
    trending_list,
    week_of,
    week_period,
)
from paperfeed.rank.search import MODES, SearchResult, similar
from paperfeed.rank.trending import FORMULA
from paperfeed.store import featured
from paperfeed.store import papers as store

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _list_page(
    request: Request,
    hub: Hub,
    period: Period,
    sort: str,
    page: int,
    latest: date | None = None,
) -> Response:
    """A day's, week's or month's list; ``latest`` (the latest featured day up to today)
    is looked up unless the caller has it already."""
    if page < 0:
        raise InvalidInputError("p must be 0 or more")
    listed = period_list(
        hub.engine,
        period,
        sort=sort,
        limit=PAGE_SIZE,
        offset=page * PAGE_SIZE,
        now=hub.now(),
        zone=hub.zone,
        rule=hub.rule,
    )
    with hub.engine.connect() as conn:
        if latest is None:
            latest = featured.latest_featured_day(conn, on_or_before=hub.today())
        step_back, step_on = _steps(conn, period, hub.today())
        cards = load_cards(conn, listed.papers, viewer_of(request).member, listed.votes)
    context = {
        "period": period,
        "step_back": step_back,
        "step_on": step_on,
        "listed": listed,
        "cards": cards,
        "sort": sort,
        "page": page,
        "latest": latest,
        "today": hub.today(),
        "week": week_of(period.first),
        "month": month_of(period.first),
        "fragment": request.headers.get("HX-Request") == "true",
    }
    return render(request, "list.html", context)


def _steps(conn: Connection, period: Period, today: date) -> tuple[Period | None, Period | None]:
    """The lists a page links to as previous and next: a day steps to the nearest days
    that have papers (never to an empty weekend or past the last list); a week or a month
    to its calendar neighbours, up to today."""
    if period.kind == "day":
        before, after = featured.neighbour_featured_days(conn, period.first)
        return (
            day_period(before) if before else None,
            day_period(after) if after and after <= today else None,
        )
    following = period.following
    return period.previous, following if following.first <= today else None


@router.get("/", response_class=HTMLResponse)
def home(request: Request, hub: HubDep, sort: str = "votes", p: int = 0) -> Response:
    with hub.engine.connect() as conn:
        latest = featured.latest_featured_day(conn, on_or_before=hub.today())
    return _list_page(request, hub, day_period(latest or hub.today()), sort, p, latest)


@router.get("/papers/date")
def pick_date(day: Annotated[str, Query(max_length=20)]) -> RedirectResponse:
    """The date picker's form target (works without JavaScript)."""
    chosen = parse_day(day, "day")
    assert chosen is not None
    return RedirectResponse(f"/papers/date/{chosen.isoformat()}", status_code=303)


@router.get("/papers/date/{day}", response_class=HTMLResponse)
def papers_on(request: Request, hub: HubDep, day: str, sort: str = "votes", p: int = 0) -> Response:
    chosen = parse_day(day, "day")
    assert chosen is not None
    return _list_page(request, hub, day_period(chosen), sort, p)


@router.get("/papers/week/{week}", response_class=HTMLResponse)
def papers_of_week(
    request: Request, hub: HubDep, week: str, sort: str = "votes", p: int = 0
) -> Response:
    return _list_page(request, hub, week_period(week), sort, p)


@router.get("/papers/month/{month}", response_class=HTMLResponse)
def papers_of_month(
    request: Request, hub: HubDep, month: str, sort: str = "votes", p: int = 0
) -> Response:
    return _list_page(request, hub, month_period(month), sort, p)


@router.get("/trending", response_class=HTMLResponse)
def trending(request: Request, hub: HubDep, p: int = 0) -> Response:
    if p < 0:
        raise InvalidInputError("p must be 0 or more")
    listed = trending_list(
        hub.engine,
        now=hub.now(),
        zone=hub.zone,
        rule=hub.rule,
        limit=PAGE_SIZE,
        offset=p * PAGE_SIZE,
        latest_when_stale=True,
    )
    with hub.engine.connect() as conn:
        cards = load_cards(conn, listed.papers, viewer_of(request).member, listed.votes)
    context = {
        "listed": listed,
        "cards": cards,
        "formula": FORMULA,
        "rule": hub.rule,
        "page": p,
        "fragment": request.headers.get("HX-Request") == "true",
    }
    return render(request, "trending.html", context)


def _paper_page(request: Request, hub: HubDep, stored: StoredPaper, hidden: bool) -> Response:
    """The page of ``stored`` (``hidden``: asked where it was found). A page withheld from
    its viewer (hidden, and no moderator) looks for no similar papers."""
    member = viewer_of(request).member
    hits: list[Hit] = []
    neighbours: list[StoredPaper] = []
    similar_note = None
    if not withheld_from(member, hidden):
        try:
            hits, neighbours = similar(hub.engine, hub.semantic, [stored.id], limit=6)
        except PaperfeedError as exc:  # the page still shows the paper
            similar_note = f"similar papers are unavailable: {exc}"
    with hub.engine.connect() as conn:
        view = load_paper_view(conn, stored, neighbours, member, hidden=hidden)
    context = {
        "stored": stored,
        "paper": stored.paper,
        "similar": list(zip(hits, neighbours, strict=True)),
        "similar_note": similar_note,
        "view": view,
        "may": permissions.allowed_actions(member),
    }
    return render(request, "paper.html", context)


@router.get("/papers/id/{paper_id}", response_class=HTMLResponse)
def paper_by_number(request: Request, hub: HubDep, paper_id: int) -> Response:
    with hub.engine.connect() as conn:
        stored = store.get_by_id(conn, paper_id)
        if stored is None:
            raise NotFoundError(f"no paper number {paper_id}")
        if stored.paper.arxiv_id:
            return RedirectResponse(f"/papers/{stored.paper.arxiv_id}", status_code=301)
        hidden = paper_hidden(conn, stored)
    return _paper_page(request, hub, stored, hidden)


@router.get("/papers/{arxiv_id:path}", response_class=HTMLResponse)
def paper(request: Request, hub: HubDep, arxiv_id: str) -> Response:
    if arxiv_id.startswith("pf"):  # the API's id of a paper without an arXiv id
        with hub.engine.connect() as conn:
            found = find_paper(conn, arxiv_id, include_hidden=True)
            if found.paper.arxiv_id:
                return RedirectResponse(paper_path(found), status_code=301)
            hidden = paper_hidden(conn, found)
        return _paper_page(request, hub, found, hidden)
    try:
        base, version = split_arxiv_id(arxiv_id)
    except ValueError as exc:
        raise NotFoundError(f"not an arXiv id: {arxiv_id[:60]!r}") from exc
    if version is not None or base != arxiv_id:
        return RedirectResponse(f"/papers/{base}", status_code=301)
    with hub.engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, base)
        if stored is None:
            raise NotFoundError(f"paper {base} is not on this hub yet")
        hidden = paper_hidden(conn, stored)
    return _paper_page(request, hub, stored, hidden)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    hub: HubDep,
    q: Annotated[str, Query(max_length=2000)] = "",
    mode: str = "hybrid",
    cat: Annotated[str, Query(max_length=100)] = "",
    after: Annotated[str, Query(max_length=20)] = "",
    before: Annotated[str, Query(max_length=20)] = "",
    p: int = 0,
) -> Response:
    context: dict[str, Any] = {
        "q": q,
        "mode": mode if mode in MODES else "hybrid",
        "modes": MODES,
        "cat": cat,
        "after": after,
        "before": before,
        "page": p,
        "result": None,
        "cards": NO_CARDS,
        "problem": None,
        "fragment": request.headers.get("HX-Request") == "true",
    }
    if not q.strip() and not cat.strip():
        return render(request, "search.html", context)
    try:
        if p < 0:
            raise InvalidQueryError("p must be 0 or more")
        query: SearchQuery = parse_query(q).with_filters(
            categories=(cat.strip(),) if cat.strip() else (),
            after=parse_day(after, "after") if after else None,
            before=parse_day(before, "before") if before else None,
        )
        member = viewer_of(request).member
        if member is None and hub.kept.enabled:
            # A visitor's results are every visitor's: kept as rendered (see _visitor_results).
            key = ("search page", q, mode, cat, after, before, p)
            html, context["result"] = hub.kept.get(
                key, lambda: _visitor_results(request, hub, query, mode, context), _html_bytes
            )
            context["results_html"] = Markup(html)  # noqa: S704 (rendered with autoescaping)
            return render(request, "search.html", context)
        result = hub.search(query, mode=mode, limit=20, offset=p * 20)
    except InvalidInputError as exc:
        context["problem"] = str(exc)
        return render(request, "search.html", context, status=400)
    with hub.engine.connect() as conn:
        context["cards"] = load_cards(conn, result.papers, member)
    context["result"] = result
    return render(request, "search.html", context)


def _visitor_results(
    request: Request, hub: Hub, query: SearchQuery, mode: str, context: dict[str, Any]
) -> tuple[str, SearchResult]:
    """The search's results as a visitor sees them (no votes of their own, no forms:
    nothing of the viewer's, not even the CSRF token, is on them), rendered."""
    result = hub.search(query, mode=mode, limit=20, offset=context["page"] * 20)
    with hub.engine.connect() as conn:
        cards = load_cards(conn, result.papers, None)
    template = request.app.state.templates.get_template("_search_results.html")
    html = template.render({**context, "result": result, "cards": cards})
    return html, result


def _html_bytes(kept: tuple[str, SearchResult]) -> int:
    return 2 * len(kept[0])


@router.post("/comments/preview", response_class=HTMLResponse)
def comment_preview(
    viewer: CsrfDep, body: Annotated[str, Form(max_length=MAX_BODY + 1000)] = ""
) -> HTMLResponse:
    """A comment's Markdown as the page will show it (math, links), changing nothing."""
    rendered = render_markdown(body) if body.strip() else '<p class="sub">Nothing to preview.</p>'
    return HTMLResponse(f'<div class="comment-body preview-body">{rendered}</div>')
