"""Accounts through the real pages and a real SMTP server: sign-up, confirmation, log-in,
lockout, reset, sessions, CSRF, API tokens; plus the pure pieces (rate-limit decisions,
signed links, permissions)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from unittest import mock

import pytest
from fastapi.testclient import TestClient

from community_support import (
    NOW,
    PASSWORD,
    Inbox,
    app_client,
    app_routes,
    clock_of,
    csrf_of,
    inbox,
    log_in,
    make_member,
    post_form,
    sign_up,
    smtp,
    token_for,
)
from paperfeed.deliver import rate_limit
from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.passwords import hash_password, verify_password
from paperfeed.errors import ForbiddenError, UnauthorizedError
from paperfeed.store.users import Member

__all__ = ["app_client", "inbox", "smtp"]  # fixtures


def test_sign_up_confirm_log_in_and_out(app_client: TestClient, inbox: Inbox) -> None:
    sign_up(app_client, inbox, "ada@example.org", "ada")
    page = app_client.get("/")
    assert "ada" in page.text and "Log out" in page.text
    message = inbox.to("ada@example.org")[0]
    assert message["From"] == "paperfeed <hub@paperfeed.test>"
    assert message["Subject"] == "Confirm your paperfeed account"
    settings = app_client.get("/account/settings")
    assert settings.status_code == 200 and "ada@example.org" in settings.text
    post_form(app_client, "/account/logout", {}, page="/")
    assert "Log in" in app_client.get("/").text
    assert app_client.get("/account/settings", follow_redirects=False).status_code == 303


def test_cookies_are_http_only_and_same_site(app_client: TestClient) -> None:
    make_member(app_client, "bea")
    first = app_client.get("/account/login")
    assert (
        "HttpOnly" in first.headers["set-cookie"] and "SameSite=Lax" in first.headers["set-cookie"]
    )
    answer = log_in(app_client, "bea@example.org")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("pf_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_flag_on_https(db_url: str, smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from community_support import community_settings
    from paperfeed.deliver.app import create_app

    settings = community_settings(db_url, smtp[1], tmp_path).model_copy(
        update={"base_url": "https://hub.example"}
    )
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        assert "Secure" in client.get("/account/login").headers["set-cookie"]


def test_unconfirmed_members_cannot_log_in_and_get_a_new_link(
    app_client: TestClient, inbox: Inbox
) -> None:
    post_form(
        app_client,
        "/account/signup",
        {"email": "cy@example.org", "username": "cyd", "password": PASSWORD},
    )
    answer = post_form(
        app_client, "/account/login", {"email": "cy@example.org", "password": PASSWORD}
    )
    assert answer.status_code == 403 and "confirm your e-mail" in answer.text
    assert len(inbox.to("cy@example.org")) == 2


def test_sign_up_never_reveals_an_existing_address(app_client: TestClient, inbox: Inbox) -> None:
    make_member(app_client, "dee")
    again = post_form(
        app_client,
        "/account/signup",
        {"email": "dee@example.org", "username": "someone", "password": PASSWORD},
    )
    fresh = post_form(
        app_client,
        "/account/signup",
        {"email": "eve@example.org", "username": "eve", "password": PASSWORD},
    )
    assert again.status_code == fresh.status_code == 200
    assert _main(again.text) == _main(fresh.text)
    assert "already has an account" in inbox.to("dee@example.org")[0].get_body().get_content()  # type: ignore[union-attr]


def _main(page: str) -> str:
    return page.split("<main", 1)[1].split("</main>", 1)[0]


def test_wrong_password_and_unknown_address_read_the_same(app_client: TestClient) -> None:
    make_member(app_client, "fay")
    wrong = post_form(
        app_client, "/account/login", {"email": "fay@example.org", "password": "x" * 12}
    )
    unknown = post_form(
        app_client, "/account/login", {"email": "nobody@example.org", "password": "x" * 12}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert _main(wrong.text).replace("fay@", "X@") == _main(unknown.text).replace("nobody@", "X@")


def test_lockout_after_failures_expires(app_client: TestClient) -> None:
    make_member(app_client, "gus")
    for _ in range(5):
        answer = post_form(
            app_client, "/account/login", {"email": "gus@example.org", "password": "wrong" * 3}
        )
        assert answer.status_code == 401
    locked = post_form(
        app_client, "/account/login", {"email": "gus@example.org", "password": PASSWORD}
    )
    assert locked.status_code == 429 and "too many failed log-ins" in locked.text
    assert int(locked.headers["Retry-After"]) == 15 * 60
    # An address without an account locks the same way (nothing is revealed).
    for _ in range(5):
        post_form(
            app_client, "/account/login", {"email": "ghost@example.org", "password": "w" * 12}
        )
    ghost = post_form(
        app_client, "/account/login", {"email": "ghost@example.org", "password": "w" * 12}
    )
    assert ghost.status_code == 429
    clock_of(app_client).advance(15 * 60 + 1)
    assert log_in(app_client, "gus@example.org").status_code == 303


def test_rate_limit_per_ip(db_url: str, smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from community_support import community_settings
    from paperfeed.deliver.app import create_app

    settings = community_settings(db_url, smtp[1], tmp_path, auth_ip_limit=3)
    with TestClient(create_app(settings)) as client:
        for n in range(3):
            answer = post_form(client, "/account/forgot", {"email": f"p{n}@example.org"})
            assert answer.status_code == 200
        limited = post_form(client, "/account/forgot", {"email": "p9@example.org"})
        assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_password_reset_is_single_use_and_ends_sessions(
    app_client: TestClient, inbox: Inbox
) -> None:
    make_member(app_client, "hal")
    other = TestClient(app_client.app)
    log_in(other, "hal@example.org")
    assert "hal" in other.get("/account/settings").text
    answer = post_form(app_client, "/account/forgot", {"email": "hal@example.org"})
    assert answer.status_code == 200
    unknown = post_form(app_client, "/account/forgot", {"email": "nobody@example.org"})
    assert _main(answer.text) == _main(unknown.text)
    link = inbox.last_link("hal@example.org")
    token = link.split("token=", 1)[1]
    assert app_client.get(link.removeprefix("http://testserver")).status_code == 200
    new_password = "a brand new password"
    done = post_form(app_client, "/account/reset", {"token": token, "password": new_password})
    assert done.status_code == 200 and "Password changed" in done.text
    again = post_form(app_client, "/account/reset", {"token": token, "password": "another one 123"})
    assert again.status_code == 400 and "used" in again.text
    assert other.get("/account/settings", follow_redirects=False).status_code == 303
    assert log_in(app_client, "hal@example.org", new_password).status_code == 303


def test_expired_confirmation_link(app_client: TestClient, inbox: Inbox) -> None:
    post_form(
        app_client,
        "/account/signup",
        {"email": "ida@example.org", "username": "ida", "password": PASSWORD},
    )
    token = inbox.last_link("ida@example.org").split("token=", 1)[1]
    clock_of(app_client).advance(48 * 3600 + 1)
    answer = post_form(app_client, "/account/verify", {"token": token})
    assert answer.status_code == 400 and "expired" in answer.text


def test_bad_sign_up_input_is_refused(app_client: TestClient) -> None:
    for data, words in [
        ({"email": "nope", "username": "joe", "password": PASSWORD}, "valid e-mail"),
        ({"email": "j@example.org", "username": "<script>", "password": PASSWORD}, "user name"),
        ({"email": "j@example.org", "username": "joe", "password": "short"}, "10 characters"),
    ]:
        answer = post_form(app_client, "/account/signup", data)
        assert answer.status_code == 400 and words in answer.text
        assert "<script>" not in answer.text.split("<main", 1)[1]


def test_every_form_post_needs_the_csrf_token(app_client: TestClient) -> None:

    make_member(app_client, "kim")
    log_in(app_client, "kim@example.org")
    # The digest's confirm / preferences / one-click unsubscribe forms are authorised by the
    # signed token they carry (mailed links, used without a log-in), not by a cookie.
    by_signed_token = {"/digest/confirm", "/digest/preferences", "/digest/unsubscribe"}
    posts = [
        r
        for r in app_routes()
        if "POST" in r.methods and not r.path.startswith("/api/") and r.path not in by_signed_token
    ]
    assert len(posts) >= 12
    for route in posts:
        path = route.path.replace("{token_id}", "1").replace("{paper_id}", "1")
        path = path.replace("{comment_id}", "1").replace("{collection_id}", "1")
        path = path.replace("{user_id}", "1").replace("{arxiv_id}", "2611.00001")
        for data in ({}, {"csrf": "forged"}):
            answer = app_client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403, (route.path, data, answer.status_code)
            assert "security token" in answer.text
    # The token of another browser does not work either.
    stranger = TestClient(app_client.app)
    token = csrf_of(stranger)
    answer = app_client.post("/account/logout", data={"csrf": token}, follow_redirects=False)
    assert answer.status_code == 403


def _snapshot(client: TestClient) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (bookkeeping left out: an API token's last-use time, the
    database's random identity, which the word index makes on its first use, and the
    machines' rows, where a serving process records what its vector search switched to)."""
    from sqlalchemy import select

    from paperfeed.store.schema import metadata

    engine = client.app.state.services.accounts.engine  # type: ignore[attr-defined]
    found = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.info.get("dialects") and engine.dialect.name not in table.info["dialects"]:
                continue
            if table.name == "index_machines":
                continue
            columns = [c for c in table.columns if c.name != "last_used_at"]
            rows = conn.execute(select(*columns)).all()
            if table.name == "index_state":
                rows = [row for row in rows if not str(row[0]).endswith(":identity")]
            found[table.name] = sorted(map(tuple, rows), key=repr)
    return found


GET_VALUES = {
    "{day}": "2026-11-23",
    "{week}": "2026-W48",
    "{month}": "2026-11",
    "{fmt}": "atom",
    "{category}": "cs",
    "{arxiv_id}": "2611.00001",
    "{paper_id}": "1",
    "{comment_id}": "1",
    "{collection_id}": "1",
    "{token_id}": "1",
}


def test_no_get_changes_state(app_client: TestClient, inbox: Inbox) -> None:
    from community_support import add_paper

    add_paper(app_client)
    post_form(
        app_client,
        "/account/signup",
        {"email": "lee@example.org", "username": "lee", "password": PASSWORD},
    )
    link = inbox.last_link("lee@example.org").removeprefix("http://testserver")
    owner = make_member(app_client, "lou")
    auth = token_for(app_client, owner)
    app_client.post("/api/collections", headers=auth, json={"title": "c", "public": True})
    app_client.post("/api/papers/2611.00001/comments", headers=auth, json={"body": "hi"})
    log_in(app_client, "lou@example.org")
    before = _snapshot(app_client)
    paths = [link, "/account/reset?token=x"]
    for route in app_routes():
        if "GET" in route.methods:
            path = route.path.replace(":path", "")
            for name, value in GET_VALUES.items():
                path = path.replace(name, value)
            paths.append(path)
    for path in paths:
        app_client.get(path, headers=auth, follow_redirects=False)
        app_client.get(path, follow_redirects=False)
    assert _snapshot(app_client) == before
    answer = post_form(
        app_client, "/account/login", {"email": "lee@example.org", "password": PASSWORD}
    )
    assert answer.status_code == 403, "opening the link alone confirms nothing"


def test_api_tokens_from_the_settings_page(app_client: TestClient) -> None:
    make_member(app_client, "max")
    log_in(app_client, "max@example.org")
    page = post_form(app_client, "/account/tokens", {"name": "laptop"}, page="/account/settings")
    assert page.status_code == 200
    token = page.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    member = accounts.token_member(token)
    assert member is not None and member.username == "max"
    assert accounts.token_member(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert accounts.token_member("pf_nonsense") is None
    token_id = page.text.split("/account/tokens/", 1)[1].split("/", 1)[0]
    revoked = post_form(
        app_client, f"/account/tokens/{token_id}/revoke", {}, page="/account/settings"
    )
    assert revoked.status_code == 303
    assert accounts.token_member(token) is None


def test_another_members_token_cannot_be_revoked(app_client: TestClient) -> None:
    owner = make_member(app_client, "ned")
    token_for(app_client, owner)
    make_member(app_client, "ozz")
    log_in(app_client, "ozz@example.org")
    answer = post_form(app_client, "/account/tokens/1/revoke", {}, page="/account/settings")
    assert answer.status_code == 400
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    from paperfeed.store import tokens

    with accounts.engine.connect() as conn:
        assert len(tokens.tokens_of(conn, owner.id)) == 1


def test_token_comparison_is_constant_time(app_client: TestClient) -> None:
    member = make_member(app_client, "pat")
    token = token_for(app_client, member)["Authorization"].split()[1]
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    with mock.patch.object(hmac, "compare_digest", wraps=hmac.compare_digest) as spy:
        assert accounts.token_member(token) is not None
        assert accounts.token_member(token[:-2] + "zz") is None
        assert accounts.token_member("pf_AAAAAAAAAAAAAAAA_" + "b" * 43) is None  # no such selector
    assert spy.call_count == 3


def test_after_log_in_only_local_paths_are_followed(app_client: TestClient) -> None:
    make_member(app_client, "quin")
    for target, expected in [
        ("/trending", "/trending"),
        ("//evil.test/x", "/"),
        ("https://evil.test", "/"),
    ]:
        answer = post_form(
            app_client,
            "/account/login",
            {"email": "quin@example.org", "password": PASSWORD, "next": target},
        )
        assert answer.headers["location"] == expected


# -- pure pieces ------------------------------------------------------------------------------


def test_rate_limit_decision() -> None:
    rule = rate_limit.Rule("x", 3, timedelta(minutes=10))
    times = [NOW - timedelta(minutes=m) for m in (9, 5, 1)]
    assert rate_limit.retry_after(times[:2], NOW, rule) == 0
    assert rate_limit.retry_after(times, NOW, rule) == 60
    assert rate_limit.retry_after(times, NOW + timedelta(minutes=1, seconds=1), rule) == 0
    assert rate_limit.retry_after([NOW - timedelta(minutes=11)] * 5, NOW, rule) == 0


def test_passwords_are_argon2id() -> None:
    hashed = hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough password")
    assert not verify_password(hashed, "a long enough passworD")
    assert not verify_password(None, "anything at all")


def _member(role: str = "member", *, verified: bool = True, suspended: bool = False) -> Member:
    return Member(1, "a@b.c", "a", role, NOW, NOW if verified else None, NOW if suspended else None)  # type: ignore[arg-type]


def test_permissions() -> None:
    assert permissions.problem(None, "vote") == "log in first"
    assert permissions.allowed(_member(), "vote")
    assert not permissions.allowed(_member(verified=False), "vote")
    assert not permissions.allowed(_member(suspended=True), "comment")
    assert not permissions.allowed(_member(), "edit_comment", owner_id=2)
    assert permissions.allowed(_member(), "edit_comment", owner_id=1)
    assert not permissions.allowed(_member(), "hide")
    assert permissions.allowed(_member("moderator"), "hide")
    assert not permissions.allowed(_member("moderator"), "admin")
    assert permissions.allowed(_member("admin"), "admin")
    assert not permissions.allowed(_member(), "read_collection", owner_id=2)
    with pytest.raises(UnauthorizedError):
        permissions.require(None, "vote")
    with pytest.raises(ForbiddenError):
        permissions.require(_member(), "hide")
