"""Accounts and subscriptions say nothing about who has an account (issue #15 item 4),
and the smaller holes of item 7 and 11: sign-up answers the same for a taken user name,
mail is sent after the answer (an SMTP server that hangs or is down changes neither the
answer nor its time, and its name reaches only the log), API tokens die with a password
reset, a stranger cannot lock an owner out, X-Forwarded-For counts only from a trusted
proxy, an old confirmation link cannot undo an unsubscribe, the logged mail is readable,
and a dead link offers a new one."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Iterator, MutableMapping
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from community_support import (
    PASSWORD,
    Inbox,
    app_client,
    community_settings,
    csrf_of,
    inbox,
    make_member,
    post_form,
    smtp,
    token_for,
)
from paperfeed.deliver.app import create_app
from paperfeed.errors import RateLimitedError, UnauthorizedError

__all__ = ["app_client", "inbox", "smtp"]  # fixtures

SAME = "Check your inbox"


def _page_text(html: str) -> str:
    """What a visitor reads of a page's main part (the CSRF token and cookies differ)."""
    main = re.search(r"<main.*?</main>", html, flags=re.S)
    text = main.group(0) if main else html
    return re.sub(r'name="csrf" value="[^"]*"', "", text)


# -- item 4: sign-up ----------------------------------------------------------------------


def test_sign_up_answers_the_same_for_a_taken_user_name(
    app_client: TestClient, inbox: Inbox
) -> None:
    make_member(app_client, "ada")
    taken = post_form(
        app_client,
        "/account/signup",
        {"email": "eve@example.org", "username": "ada", "password": PASSWORD},
    )
    known = post_form(
        app_client,
        "/account/signup",
        {"email": "ada@example.org", "username": "someone", "password": PASSWORD},
    )
    fresh = post_form(
        app_client,
        "/account/signup",
        {"email": "new@example.org", "username": "newbie", "password": PASSWORD},
    )
    assert taken.status_code == known.status_code == fresh.status_code == 200
    assert _page_text(taken.text) == _page_text(known.text) == _page_text(fresh.text)
    assert SAME in fresh.text and "taken" not in taken.text
    # The address typed learns, by mail, that the name is taken.
    (told,) = inbox.to("eve@example.org")
    body = told.get_body(("plain",))
    assert body is not None and "ada" in body.get_content() and "taken" in body.get_content()


# -- item 4: mail after the answer, SMTP trouble never shown ------------------------------


@pytest.fixture
def tarpit() -> Iterator[int]:
    """An SMTP server that accepts connections and never greets (a hung relay)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answer_seconds(client: TestClient, path: str, form: dict[str, str]) -> tuple[float, bytes]:
    """Seconds until the app has sent its whole answer (what a visitor waits), and the
    answer; the app may go on working after it (TestClient would wait for that too)."""
    from urllib.parse import urlencode

    csrf = csrf_of(client, "/account/forgot")
    body = urlencode({"csrf": csrf, **form}).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"cookie", cookie.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    answered: list[float] = []
    chunks: list[bytes] = []

    async def run() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.append(time.perf_counter())

        await client.app(scope, receive, send)

    start = time.perf_counter()
    assert client.portal is not None
    client.portal.call(run)
    return answered[0] - start, b"".join(chunks)


def test_reset_mail_is_sent_after_the_answer(
    db_url: str, tarpit: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = community_settings(db_url, tarpit, tmp_path, http_timeout_seconds=3)
    with TestClient(create_app(settings)) as client:
        make_member(client, "kim")
        client.get("/account/forgot")
        caplog.set_level(logging.ERROR)
        known_wait, known = _answer_seconds(client, "/account/forgot", {"email": "kim@example.org"})
        unknown_wait, unknown = _answer_seconds(
            client, "/account/forgot", {"email": "nobody@example.org"}
        )
    assert known_wait < 1.0 and unknown_wait < 1.0, (known_wait, unknown_wait)
    assert _page_text(known.decode()) == _page_text(unknown.decode())
    assert any("kim@example.org" in r.getMessage() for r in caplog.records)


def test_smtp_down_is_never_shown_to_the_visitor(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    settings = community_settings(db_url, port, tmp_path)
    caplog.set_level(logging.ERROR)
    with TestClient(create_app(settings)) as client:
        make_member(client, "lou")
        answers = {
            "reset known": post_form(client, "/account/forgot", {"email": "lou@example.org"}),
            "reset unknown": post_form(client, "/account/forgot", {"email": "x@example.org"}),
            "sign-up": post_form(
                client,
                "/account/signup",
                {"email": "new@example.org", "username": "newbie", "password": PASSWORD},
            ),
            "sign-up known": post_form(
                client,
                "/account/signup",
                {"email": "lou@example.org", "username": "other", "password": PASSWORD},
            ),
            "subscribe": client.post(
                "/digest/subscribe",
                data={
                    "csrf": csrf_of(client, "/digest"),
                    "email": "sub@example.org",
                    "frequency": "daily",
                },
            ),
            "subscribe api": client.post("/api/subscriptions", json={"email": "api@example.org"}),
        }
    for what, answer in answers.items():
        assert answer.status_code in (200, 202), (what, answer.status_code, answer.text[:300])
        assert "127.0.0.1" not in answer.text and str(port) not in answer.text, what
    assert _page_text(answers["reset known"].text) == _page_text(answers["reset unknown"].text)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"127.0.0.1:{port}" in logged and "lou@example.org" in logged


# -- item 7: tokens, lockout, proxies, old links ------------------------------------------


def test_a_password_reset_revokes_the_api_tokens(app_client: TestClient, inbox: Inbox) -> None:
    member = make_member(app_client, "tom")
    auth = token_for(app_client, member)
    assert app_client.get("/api/collections", headers=auth).status_code == 200
    post_form(app_client, "/account/forgot", {"email": "tom@example.org"})
    link = inbox.last_link("tom@example.org").removeprefix("http://testserver")
    page = app_client.get(link)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token
    done = post_form(
        app_client, "/account/reset", {"token": unescape(token.group(1)), "password": "x" * 12}
    )
    assert done.status_code == 200, done.text
    assert "API token revoked" in done.text
    assert TestClient(app_client.app).get("/api/collections", headers=auth).status_code == 401


def test_a_stranger_cannot_lock_the_owner_out(app_client: TestClient) -> None:
    make_member(app_client, "own")
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    limit = accounts.settings.login_max_failures
    for _ in range(limit):
        with pytest.raises(UnauthorizedError):
            accounts.log_in(email="own@example.org", password="wrong guess", ip="203.0.113.9")
    with pytest.raises(RateLimitedError):
        accounts.log_in(email="own@example.org", password=PASSWORD, ip="203.0.113.9")
    # The owner, from their own address, still gets in.
    assert accounts.log_in(email="own@example.org", password=PASSWORD, ip="198.51.100.7")


def test_many_addresses_failing_one_account_lock_it_for_everyone(app_client: TestClient) -> None:
    make_member(app_client, "tgt")
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    budget = accounts.settings.login_account_max_failures
    for n in range(budget):
        with pytest.raises((UnauthorizedError, RateLimitedError)):
            accounts.log_in(email="tgt@example.org", password="nope", ip=f"10.0.{n // 250}.{n}")
    with pytest.raises(RateLimitedError):
        accounts.log_in(email="tgt@example.org", password=PASSWORD, ip="198.51.100.7")


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    from paperfeed.deliver.rate_limit import forwarded_client, trusted_networks

    none = trusted_networks("")
    proxies = trusted_networks("127.0.0.1, 10.0.0.0/8")
    assert forwarded_client("127.0.0.1", "203.0.113.9", none) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", "203.0.113.9", proxies) == "203.0.113.9"
    # The rightmost address a trusted proxy did not add is the client; what the client
    # wrote itself, to the left, is ignored.
    assert forwarded_client("10.1.2.3", "1.1.1.1, 203.0.113.9, 10.0.0.5", proxies) == (
        "203.0.113.9"
    )
    assert forwarded_client("198.51.100.7", "203.0.113.9", proxies) == "198.51.100.7"
    assert forwarded_client("127.0.0.1", "not an address", proxies) == "127.0.0.1"
    with pytest.raises(ValueError):
        trusted_networks("10.0.0.0/33")


def test_the_app_ignores_forwarded_for_unless_told(db_url: str, smtp: Any, tmp_path: Path) -> None:
    from paperfeed.deliver.web.deps import client_ip

    for trusted, expected in (("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")):
        settings = community_settings(db_url, smtp[1], tmp_path, trusted_proxies=trusted)
        app = create_app(settings)
        request = _request("127.0.0.1", "203.0.113.9")
        request.scope["app"] = app
        assert client_ip(request) == expected


def test_an_old_confirmation_link_does_not_undo_an_unsubscribe(
    app_client: TestClient, inbox: Inbox
) -> None:
    app_client.post(
        "/digest/subscribe",
        data={
            "csrf": csrf_of(app_client, "/digest"),
            "email": "uu@example.org",
            "frequency": "daily",
        },
    )
    confirm_path = inbox.last_link("uu@example.org").removeprefix("http://testserver")
    token = confirm_path.split("token=", 1)[1]
    from urllib.parse import unquote

    first = app_client.post("/digest/confirm", data={"token": unquote(token)})
    assert first.status_code == 200 and "Subscribed" in first.text
    manage = re.search(r"/digest/preferences\?token=([^\"&]+)", first.text)
    assert manage
    bare = TestClient(app_client.app)
    gone = bare.post(
        f"/digest/unsubscribe?token={manage.group(1)}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert gone.status_code == 200 and "Unsubscribed" in gone.text
    again = app_client.post("/digest/confirm", data={"token": unquote(token)})
    assert again.status_code == 400, again.text
    from paperfeed.store import subscriptions as store

    engine = app_client.app.state.hub.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        sub = store.by_email(conn, "uu@example.org")
    assert sub is not None and sub.status == "unsubscribed"
    assert 'href="/digest"' in again.text  # a way to subscribe again


# -- item 11: readable logged mail, a dead link offers a new one --------------------------


def test_without_smtp_the_logged_mail_is_readable(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = community_settings(db_url, 25, tmp_path).model_copy(update={"smtp_host": ""})
    caplog.set_level(logging.WARNING)
    with TestClient(create_app(settings)) as client:
        answer = post_form(
            client,
            "/account/signup",
            {"email": "log@example.org", "username": "logger", "password": PASSWORD},
        )
        assert answer.status_code == 200
        logged = "\n".join(r.getMessage() for r in caplog.records)
        link = re.search(r"http://testserver/account/verify\?token=\S+", logged)
        assert link, logged
        assert "=3D" not in logged and "Confirm your paperfeed account" in logged
        page = client.get(link.group(0).removeprefix("http://testserver"))
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token
        done = post_form(client, "/account/verify", {"token": unescape(token.group(1))})
        assert done.status_code == 200 and "confirmed" in done.text


def test_a_dead_link_offers_a_new_one(app_client: TestClient) -> None:
    reset = post_form(app_client, "/account/reset", {"token": "bad.link", "password": "x" * 12})
    assert reset.status_code == 400 and "not valid" in reset.text
    assert 'href="/account/forgot"' in reset.text
    verify = post_form(app_client, "/account/verify", {"token": "bad.link"})
    assert verify.status_code == 400 and 'href="/account/login' in verify.text
    digest = app_client.post("/digest/confirm", data={"token": "bad.link"})
    assert digest.status_code == 400 and 'href="/digest"' in digest.text
