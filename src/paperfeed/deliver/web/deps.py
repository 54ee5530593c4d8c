"""Every request dependency of the routes, in one place: the hub, the services, the
templates, who is asking (session, CSRF, API token), and the small helpers every page
route uses (:func:`render`, :func:`back_to`).

Routes declare what they need with these ``Annotated`` aliases (``hub: HubDep``,
``viewer: CsrfDep``, ``member: TokenMember`` ...), as the FastAPI full-stack template does.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paperfeed.deliver import rate_limit, security
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.deliver.community.collections import Collections
from paperfeed.deliver.community.comments import Comments
from paperfeed.deliver.community.moderation import Moderation
from paperfeed.deliver.community.recommend_settings import RecommendSettings
from paperfeed.deliver.digests.subscriptions import Subscriptions
from paperfeed.deliver.web.hub import Hub
from paperfeed.deliver.web.services import Services
from paperfeed.deliver.web.sessions import ANONYMOUS, CSRF_COOKIE, Viewer
from paperfeed.errors import ForbiddenError, UnauthorizedError
from paperfeed.rank.recommend.feed import Recommender
from paperfeed.store.users import Member


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def hub_dep(request: Request) -> Hub:
    """:func:`hub_of` as a dependency that runs on the event loop: FastAPI runs a plain
    function dependency in a worker thread, a hop per request."""
    return hub_of(request)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _accounts(request: Request) -> Accounts:
    return services_of(request).accounts


async def _comments(request: Request) -> Comments:
    return services_of(request).comments


async def _collections(request: Request) -> Collections:
    return services_of(request).collections


async def _moderation(request: Request) -> Moderation:
    return services_of(request).moderation


async def _subscriptions(request: Request) -> Subscriptions:
    return services_of(request).subscriptions


async def _recommender(request: Request) -> Recommender:
    return services_of(request).recommender


async def _recommend_settings(request: Request) -> RecommendSettings:
    return services_of(request).recommend_settings


HubDep = Annotated[Hub, Depends(hub_dep)]
AccountsDep = Annotated[Accounts, Depends(_accounts)]
CommentsDep = Annotated[Comments, Depends(_comments)]
CollectionsDep = Annotated[Collections, Depends(_collections)]
ModerationDep = Annotated[Moderation, Depends(_moderation)]
SubscriptionsDep = Annotated[Subscriptions, Depends(_subscriptions)]
RecommenderDep = Annotated[Recommender, Depends(_recommender)]
RecommendSettingsDep = Annotated[RecommendSettings, Depends(_recommend_settings)]


def viewer_of(request: Request) -> Viewer:
    viewer: Viewer = request.scope.get("state", {}).get("viewer", ANONYMOUS)
    return viewer


ViewerDep = Annotated[Viewer, Depends(viewer_of)]


def require_csrf(request: Request, viewer: Viewer, given: str = "") -> None:
    """Refuse a request made with this browser's cookies whose CSRF token (form field
    ``csrf`` or header ``X-CSRF-Token``) does not match its ``pf_csrf`` cookie."""
    given = given or request.headers.get("x-csrf-token", "")
    accounts = services_of(request).accounts
    if not security.csrf_ok(accounts.secret, viewer.csrf_seed, given) or CSRF_COOKIE not in (
        request.cookies
    ):
        raise ForbiddenError("the form's security token is missing or stale: reload the page")


def csrf_checked(request: Request, viewer: ViewerDep, csrf: Annotated[str, Form()] = "") -> Viewer:
    """Refuse a form post whose CSRF token does not match this browser's cookie."""
    require_csrf(request, viewer, csrf)
    return viewer


CsrfDep = Annotated[Viewer, Depends(csrf_checked)]

BEARER = HTTPBearer(auto_error=False, description="An API token: pf_...")


def bearer_member(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Member:
    """The member of the request's ``Authorization: Bearer`` token, else 401."""
    if credentials is None or not credentials.credentials.strip():
        raise UnauthorizedError("send an API token: Authorization: Bearer pf_...")
    member = services_of(request).accounts.token_member(credentials.credentials.strip())
    if member is None:
        raise UnauthorizedError("the API token is not valid (revoked, or mistyped)")
    return member


TokenMember = Annotated[Member, Depends(bearer_member)]


def optional_member(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Member | None:
    """The token's member when a token is sent (a wrong one is 401); None without one."""
    if credentials is None:
        return None
    return bearer_member(request, credentials)


MaybeTokenMember = Annotated[Member | None, Depends(optional_member)]


def client_ip(request: Request) -> str:
    """The client's IP address for rate limits: the peer, or what a trusted proxy says
    (``PAPERFEED_TRUSTED_PROXIES``; see :func:`rate_limit.forwarded_client`)."""
    peer = request.client.host if request.client else "unknown"
    trusted = hub_of(request).trusted_proxies
    if not trusted:
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return rate_limit.forwarded_client(peer, forwarded, trusted)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page from its template, with the request (for the viewer and CSRF) in the context."""
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def safe_next(target: str) -> str:
    """Only paths on this site (never ``//host`` or ``http://``) are followed after log-in."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def back_to(request: Request, default: str = "/") -> str:
    """Where a form should return to: the page it was posted from, if on this site."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return default
    path = referer.path + (f"?{referer.query}" if referer.query else "")
    return safe_next(path) if path else default
