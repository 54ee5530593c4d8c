"""Account pages: sign up, confirm, log in and out, reset a password, settings and API
tokens. Every POST carries the CSRF token; every GET only shows a form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.deliver.community import permissions
from paperfeed.deliver.web.deps import (
    AccountsDep,
    CsrfDep,
    ViewerDep,
    client_ip,
    render,
    safe_next,
)
from paperfeed.deliver.web.forms import form_page, shown_again
from paperfeed.deliver.web.ids import RowId
from paperfeed.deliver.web.sessions import SESSION_COOKIE, cookie_header
from paperfeed.errors import PaperfeedError
from paperfeed.store import tokens as token_store

router = APIRouter(prefix="/account", include_in_schema=False)
FormStr = Annotated[str, Form(max_length=2000)]
SENT = (
    "Check your inbox: if the address can be used, a message with a link is on its way. "
    "The link expires; ask again if it does."
)


SIGNUP_FIELDS = [
    ("email", "E-mail address", "email", "email"),
    ("username", "User name (3 to 32 letters, digits, - or _)", "text", "username"),
    ("password", "Password (10 characters or more)", "password", "new-password"),
]
LOGIN_FIELDS = [
    ("email", "E-mail address", "email", "email"),
    ("password", "Password", "password", "current-password"),
]
LOGIN_LINKS = [("/account/signup", "Sign up"), ("/account/forgot", "Forgot your password?")]
#: Where a dead link sends its reader for a new one (log in: an unconfirmed account is
#: sent a new confirmation link).
NEW_CONFIRMATION_LINKS = [
    ("/account/login", "Log in to get a new confirmation link"),
    ("/account/signup", "Sign up again"),
]
NEW_RESET_LINKS = [("/account/forgot", "Ask for a new reset link")]


@dataclass(frozen=True)
class AccountForm:
    """One account form: shown on its GET, and again with the problem when its POST's
    service call refuses the input."""

    title: str
    action: str
    fields: list[tuple[str, str, str, str]]
    button: str
    links: list[tuple[str, str]] = field(default_factory=list)

    def page(
        self,
        request: Request,
        *,
        hidden: dict[str, str] | None = None,
        problem: PaperfeedError | None = None,
        links: list[tuple[str, str]] | None = None,
        values: dict[str, str] | None = None,
    ) -> Response:
        context = {
            "title": self.title,
            "action": self.action,
            "fields": self.fields,
            "button": self.button,
            "hidden": hidden or {},
            "links": self.links if links is None else links,
            "values": values or {},
        }
        return form_page(request, "account_form.html", context, problem)


SIGNUP = AccountForm(
    "Sign up", "/account/signup", SIGNUP_FIELDS, "Sign up", [("/account/login", "Log in instead")]
)
VERIFY = AccountForm("Confirm your e-mail address", "/account/verify", [], "Confirm my address")
LOGIN = AccountForm("Log in", "/account/login", LOGIN_FIELDS, "Log in", LOGIN_LINKS)
FORGOT = AccountForm(
    "Reset your password",
    "/account/forgot",
    [("email", "E-mail address", "email", "email")],
    "Send me a link",
)
RESET = AccountForm(
    "Choose a new password",
    "/account/reset",
    [("password", "New password (10 characters or more)", "password", "new-password")],
    "Set the password",
)


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> Response:
    return SIGNUP.page(request)


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    _: CsrfDep,
    accounts: AccountsDep,
    email: FormStr = "",
    username: FormStr = "",
    password: FormStr = "",
) -> Response:
    with shown_again(SIGNUP.page, request, values={"email": email, "username": username}):
        accounts.sign_up(email=email, username=username, password=password, ip=client_ip(request))
    return render(request, "account_message.html", {"title": "Confirm your address", "text": SENT})


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, token: str = "") -> Response:
    return VERIFY.page(request, hidden={"token": token[:2000]})


@router.post("/verify", response_class=HTMLResponse)
def verify(request: Request, _: CsrfDep, accounts: AccountsDep, token: FormStr = "") -> Response:
    with shown_again(VERIFY.page, request, hidden={"token": token}, links=NEW_CONFIRMATION_LINKS):
        member = accounts.verify(token)
    text = f"Thank you, {member.username}: your address is confirmed. You can log in now."
    return render(
        request,
        "account_message.html",
        {"title": "Address confirmed", "text": text, "link": ("/account/login", "Log in")},
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return LOGIN.page(request, hidden={"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    _: CsrfDep,
    accounts: AccountsDep,
    email: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/",
) -> Response:
    typed = {"hidden": {"next": safe_next(next)}, "values": {"email": email}}
    with shown_again(LOGIN.page, request, **typed):
        token = accounts.log_in(email=email, password=password, ip=client_ip(request))
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = accounts.settings.base_url.startswith("https://")
    max_age = accounts.settings.session_days * 86400
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, token, max_age=max_age, secure=secure)
    )
    return response


@router.post("/logout")
def logout(viewer: CsrfDep, accounts: AccountsDep) -> Response:
    if viewer.session_token:
        accounts.log_out(viewer.session_token)
    response = RedirectResponse("/", status_code=303)
    secure = accounts.settings.base_url.startswith("https://")
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, "", max_age=0, secure=secure)
    )
    return response


@router.get("/forgot", response_class=HTMLResponse)
def forgot_page(request: Request) -> Response:
    return FORGOT.page(request)


@router.post("/forgot", response_class=HTMLResponse)
def forgot(request: Request, _: CsrfDep, accounts: AccountsDep, email: FormStr = "") -> Response:
    with shown_again(FORGOT.page, request, values={"email": email}):
        accounts.request_reset(email=email, ip=client_ip(request))
    return render(request, "account_message.html", {"title": "Check your inbox", "text": SENT})


@router.get("/reset", response_class=HTMLResponse)
def reset_page(request: Request, token: str = "") -> Response:
    return RESET.page(request, hidden={"token": token[:2000]})


@router.post("/reset", response_class=HTMLResponse)
def reset(
    request: Request, _: CsrfDep, accounts: AccountsDep, token: FormStr = "", password: FormStr = ""
) -> Response:
    with shown_again(RESET.page, request, hidden={"token": token}, links=NEW_RESET_LINKS):
        accounts.reset(token, password)
    return render(
        request,
        "account_message.html",
        {
            "title": "Password changed",
            "text": "Your new password is set; every other session has been logged out "
            "and every API token revoked (make new ones in your settings).",
            "link": ("/account/login", "Log in"),
        },
    )


def _settings_page(
    request: Request, viewer: ViewerDep, accounts: AccountsDep, new_token: str | None = None
) -> Response:
    member = permissions.require(viewer.member, "read_collection")
    with accounts.engine.connect() as conn:
        tokens = token_store.tokens_of(conn, member.id)
    return render(
        request,
        "account_settings.html",
        {"member": member, "tokens": tokens, "new_token": new_token},
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, viewer: ViewerDep, accounts: AccountsDep) -> Response:
    if viewer.member is None:
        return RedirectResponse("/account/login?next=/account/settings", status_code=303)
    return _settings_page(request, viewer, accounts)


@router.post("/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, viewer: CsrfDep, accounts: AccountsDep, name: FormStr = ""
) -> Response:
    member = permissions.require(viewer.member, "manage_tokens")
    token = accounts.create_token(member, name)
    return _settings_page(request, viewer, accounts, new_token=token)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: RowId, viewer: CsrfDep, accounts: AccountsDep) -> Response:
    member = permissions.require(viewer.member, "manage_tokens")
    accounts.revoke_token(member, token_id)
    return RedirectResponse("/account/settings", status_code=303)
