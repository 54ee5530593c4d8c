"""Digest subscription pages and ``POST /api/subscriptions``.

A GET only ever shows a page: confirming and unsubscribing happen on a POST, because
mail scanners open links. The confirm, unsubscribe and preferences forms are
authenticated by their signed token, not by a session, so they need no CSRF token; the
unsubscribe POST also answers RFC 8058's one-click (``List-Unsubscribe=One-Click``,
token in the URL, no cookies). The subscribe forms (home page, ``/digest``, a member's
``/account/digest``) carry the CSRF token like every other form.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.deliver.digests.subscriptions import Subscriptions
from paperfeed.deliver.web.deps import CsrfDep, ViewerDep, client_ip, services_of
from paperfeed.deliver.web.errors import ERRORS, ErrorOut
from paperfeed.deliver.web.forms import form_page, shown_again
from paperfeed.errors import PaperfeedError
from paperfeed.store.subscriptions import Subscriber

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["digests"])
FormStr = Annotated[str, Form(max_length=4000)]
SENT = (
    "Check your inbox: if the address can receive the digest, a message is on its way. "
    "Open its link to confirm; until then nothing else is sent."
)
SUBSCRIBE = "Get trending papers in your email inbox"


def _subs(request: Request) -> Subscriptions:
    return services_of(request).subscriptions


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _page(
    request: Request,
    title: str,
    *,
    mode: str = "message",
    text: str = "",
    problem: PaperfeedError | None = None,
    **extra: Any,
) -> Response:
    context = {"title": title, "mode": mode, "text": text, **extra}
    return form_page(request, "subscription.html", context, problem)


def _asking_page(request: Request, title: str, action: str, token: str, button: str) -> Response:
    """The page a mailed link opens: one button that posts the link's token to ``action``
    (the GET itself changes nothing, as mail scanners open links)."""
    return _page(request, title, mode="button", action=action, token=token[:2000], button=button)


# -- subscribing ----------------------------------------------------------------------------


@pages.get("/digest", response_class=HTMLResponse)
def subscribe_page(request: Request) -> Response:
    return _page(request, SUBSCRIBE, mode="subscribe")


@pages.post("/digest/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    _: CsrfDep,
    email: FormStr = "",
    frequency: FormStr = "daily",
    searches: FormStr = "",
) -> Response:
    values = {"email": email, "frequency": frequency, "searches": searches}
    with shown_again(_page, request, SUBSCRIBE, mode="subscribe", values=values):
        _subs(request).subscribe(
            email=email, frequency=frequency, searches=_lines(searches), ip=client_ip(request)
        )
    return _page(request, "Confirm your subscription", text=SENT)


class SubscriptionIn(BaseModel):
    email: str = Field(max_length=320, examples=["ada@example.org"])
    frequency: Literal["daily", "weekly"] = "daily"
    searches: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50, examples=[["training-free adaptation"]]
    )


class AcceptedOut(BaseModel):
    ok: bool
    message: str


@api.post(
    "/subscriptions",
    status_code=202,
    response_model=AcceptedOut,
    summary="Ask for the e-mail digest (double opt-in)",
    responses={**ERRORS, 429: {"model": ErrorOut, "description": "too many requests"}},
)
def subscribe_api(request: Request, body: SubscriptionIn) -> JSONResponse:
    """Starts the same flow as the web form: the address gets a confirmation link (or, if
    it already receives the digest, its preferences link). Answers 202 whether or not the
    address was known, so the answer reveals nothing."""
    _subs(request).subscribe(
        email=body.email, frequency=body.frequency, searches=body.searches, ip=client_ip(request)
    )
    return JSONResponse({"ok": True, "message": SENT}, status_code=202)


# -- confirming -----------------------------------------------------------------------------


@pages.get("/digest/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, token: str = "") -> Response:
    return _asking_page(
        request, "Confirm your subscription", "/digest/confirm", token, "Yes, send me the digest"
    )


@pages.post("/digest/confirm", response_class=HTMLResponse)
def confirm(request: Request, token: FormStr = "") -> Response:
    new_link = ("/digest", "Subscribe again for a new link")
    with shown_again(_page, request, "Confirm your subscription", link=new_link):
        sub = _subs(request).confirm(token, client_ip(request))
    subs = _subs(request)
    manage = subs.manage_token(sub, subs.clock.now())
    text = f"Thank you: {sub.email} will get the {sub.frequency} digest."
    return _page(
        request,
        "Subscribed",
        text=text,
        link=("/digest/preferences?token=" + manage, "Preferences"),
    )


# -- unsubscribing --------------------------------------------------------------------------


@pages.get("/digest/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str = "") -> Response:
    """The link in every digest: a page that asks first (a GET never unsubscribes)."""
    return _asking_page(
        request, "Unsubscribe from the digest", "/digest/unsubscribe", token, "Unsubscribe"
    )


@pages.post("/digest/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(request: Request) -> Response:
    """Unsubscribe by token: the confirm page's form, or RFC 8058's one-click POST (token in
    the URL, body ``List-Unsubscribe=One-Click``). No log-in, no cookies, no CSRF token."""
    form = await request.form()
    token = str(form.get("token") or request.query_params.get("token") or "")[:2000]
    from starlette.concurrency import run_in_threadpool

    with shown_again(_page, request, "Unsubscribe from the digest"):
        sub = await run_in_threadpool(_subs(request).unsubscribe, token, client_ip(request))
    return _page(
        request,
        "Unsubscribed",
        text=f"{sub.email} gets no more digests. Changed your mind? Subscribe again any time.",
        link=("/digest", "Subscribe again"),
    )


# -- preferences ----------------------------------------------------------------------------


def _preferences(request: Request, sub: Subscriber, token: str, **extra: Any) -> Response:
    return _page(request, "Digest preferences", mode="preferences", sub=sub, token=token, **extra)


@pages.get("/digest/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, token: str = "") -> Response:
    with shown_again(_page, request, "Digest preferences"):
        sub = _subs(request).preferences(token[:2000])
    return _preferences(request, sub, token[:2000])


@pages.post("/digest/preferences", response_class=HTMLResponse)
def save_preferences(
    request: Request,
    token: FormStr = "",
    frequency: FormStr = "daily",
    searches: FormStr = "",
    email: FormStr = "",
) -> Response:
    subs = _subs(request)

    def refused(problem: PaperfeedError) -> Response:
        try:
            current = subs.preferences(token)
        except PaperfeedError:  # the link itself is bad: no form to show again
            return _page(request, "Digest preferences", problem=problem)
        return _preferences(request, current, token, problem=problem)

    with shown_again(refused):
        sub, moving = subs.update(
            token,
            frequency=frequency,
            searches=_lines(searches),
            new_email=email,
            ip=client_ip(request),
        )
    notice = "Saved."
    if moving:
        notice += " We have sent a link to the new address: it takes over once confirmed."
    return _preferences(request, sub, token, notice=notice)


# -- members --------------------------------------------------------------------------------


@pages.get("/account/digest", response_class=HTMLResponse)
def member_page(request: Request, viewer: ViewerDep) -> Response:
    if viewer.member is None:
        return RedirectResponse("/account/login?next=/account/digest", status_code=303)
    subs = _subs(request)
    sub = subs.of_member(viewer.member)
    return _page(request, "Your e-mail digest", mode="member", sub=sub, **_member_links(subs, sub))


def _member_links(subs: Subscriptions, sub: Subscriber | None) -> dict[str, Any]:
    if sub is None or sub.status != "confirmed":
        return {}
    return {"token": subs.manage_token(sub, subs.clock.now())}


@pages.post("/account/digest", response_class=HTMLResponse)
def member_subscribe(
    request: Request, viewer: CsrfDep, frequency: FormStr = "daily", searches: FormStr = ""
) -> Response:
    if viewer.member is None:
        return RedirectResponse("/account/login?next=/account/digest", status_code=303)
    subs = _subs(request)
    member = viewer.member

    def refused(problem: PaperfeedError) -> Response:
        current = subs.of_member(member)
        return _page(request, "Your e-mail digest", mode="member", sub=current, problem=problem)

    with shown_again(refused):
        sub = subs.subscribe_member(
            member, frequency=frequency, searches=_lines(searches), ip=client_ip(request)
        )
    notice = f"Saved: {sub.email} gets the {sub.frequency} digest."
    links = _member_links(subs, sub)
    return _page(request, "Your e-mail digest", mode="member", sub=sub, notice=notice, **links)
