"""Who is asking: the session cookie, the CSRF cookie and API tokens, resolved once per
request by :class:`ViewerMiddleware` into a :class:`Viewer`.

* ``pf_session``: a random token whose SHA-256 names a row of ``user_sessions``.
* ``pf_csrf``: a random seed; every form carries its signature (``csrf``) and every
  state-changing form route depends on :func:`csrf_checked` (htmx sends it as the
  ``X-CSRF-Token`` header). Both cookies are HttpOnly and SameSite=Lax, and Secure
  whenever ``PAPERFEED_BASE_URL`` is https.
* API writes take ``Authorization: Bearer pf_...`` only (never cookies), so they need
  no CSRF token: a browser never sends that header by itself.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.deliver import security
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.store.users import Member

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
#: Answers that never set a cookie: the JSON API and feeds are read by programs and
#: cached by proxies (a public feed's ``Cache-Control: public`` must not carry a cookie).
NO_COOKIE_PATHS = ("/api/", "/feeds/", "/healthz", "/openapi.json")


@dataclass(frozen=True)
class Viewer:
    member: Member | None
    csrf: str
    csrf_seed: str
    session_token: str | None = None


ANONYMOUS = Viewer(None, "", "")
_viewer: ContextVar[Viewer] = ContextVar("paperfeed_viewer", default=ANONYMOUS)


def current_viewer() -> Viewer:
    """The viewer of the request being handled (templates call this)."""
    return _viewer.get()


def cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> str:
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class ViewerMiddleware:
    """Resolve the viewer; give a browser without one its CSRF seed cookie (on pages
    only: never on :data:`NO_COOKIE_PATHS`)."""

    def __init__(self, app: ASGIApp, accounts: Accounts) -> None:
        self.app = app
        self.accounts = accounts
        self.secure = accounts.settings.base_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        jar: SimpleCookie = SimpleCookie()
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                try:
                    jar.load(value.decode("latin-1"))
                except Exception:  # a malformed cookie header is the browser's problem
                    jar = SimpleCookie()
        seed = jar[CSRF_COOKIE].value if CSRF_COOKIE in jar else ""
        new_seed = not seed or len(seed) > 100
        if new_seed:
            seed = security.new_token()
        give_seed = new_seed and not scope["path"].startswith(NO_COOKIE_PATHS)
        session = jar[SESSION_COOKIE].value if SESSION_COOKIE in jar else None
        member = None
        if session and len(session) <= 100:
            from starlette.concurrency import run_in_threadpool

            member = await run_in_threadpool(self.accounts.session_member, session)
        viewer = Viewer(member, security.csrf_token(self.accounts.secret, seed), seed, session)
        scope.setdefault("state", {})["viewer"] = viewer
        reset = _viewer.set(viewer)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and give_seed:
                header = cookie_header(CSRF_COOKIE, seed, max_age=365 * 86400, secure=self.secure)
                message["headers"] = [*message.get("headers", []), (b"set-cookie", header.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _viewer.reset(reset)
