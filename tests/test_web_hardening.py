"""The web layer's defences, each checked on every route they promise to cover: a NUL
anywhere in the input is refused before it reaches a handler (issue #15 item 1),
``HEAD`` answers like ``GET`` (item 10), every answer carries the security headers and
feeds and the JSON API set no cookie (item 7), a session cookie alone cannot mark a
paper "not interested" (item 7), and bad input is one status, 400, with a clear message
(item 18)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from community_support import (
    add_paper,
    app_client,
    inbox,
    log_in,
    make_member,
    smtp,
    token_for,
)
from paperfeed.store.tables.community import rate_events

__all__ = ["app_client", "inbox", "smtp"]  # fixtures


# -- item 1: NUL ------------------------------------------------------------------------


def _stored_rate_keys(client: TestClient) -> list[str]:
    engine = client.app.state.hub.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return [str(k) for k in conn.execute(select(rate_events.c.key)).scalars()]


def test_a_nul_in_a_form_field_is_refused_before_anything_is_stored(
    app_client: TestClient,
) -> None:
    page = app_client.get("/account/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    answer = app_client.post(
        "/account/login",
        content=f"csrf={csrf.group(1)}&email=zz%00@b.c&password=x".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.text
    assert not any("\x00" in key for key in _stored_rate_keys(app_client))
    assert _stored_rate_keys(app_client) == []


def test_a_nul_in_json_query_or_path_is_refused(app_client: TestClient) -> None:
    add_paper(app_client)
    auth = token_for(app_client, make_member(app_client, "nul"))
    answers = [
        app_client.post("/api/collections", headers=auth, json={"title": "a\x00b"}),
        app_client.post(
            "/api/collections", headers=auth, json={"title": "ok", "description": ["x\x00"]}
        ),
        app_client.post("/api/subscriptions", json={"email": "a\x00@b.c"}),
        app_client.get("/api/papers/search", params={"q": "graph\x00"}),
        app_client.get("/feeds/search.atom", params={"q": "a\x00"}),
        app_client.get("/api/papers/2611.00001%00"),
        app_client.get("/search?q=%00"),
    ]
    for answer in answers:
        assert answer.status_code == 400, (answer.request.url, answer.text)
        assert "NUL" in answer.text
    api = answers[0].json()
    assert api["ok"] is False and api["status"] == 400
    engine = app_client.app.state.hub.engine  # type: ignore[attr-defined]
    from paperfeed.store.tables.community import collections
    from paperfeed.store.tables.digests import subscribers

    with engine.connect() as conn:
        assert conn.execute(select(collections.c.id)).all() == []
        assert conn.execute(select(subscribers.c.id)).all() == []


def test_text_without_nul_still_passes(app_client: TestClient) -> None:
    auth = token_for(app_client, make_member(app_client, "plain"))
    made = app_client.post(
        "/api/collections", headers=auth, json={"title": "Null models \\u0000 (a title)"}
    )
    assert made.status_code == 201, made.text


# -- item 10: HEAD ----------------------------------------------------------------------

HEAD_PATHS = [
    "/healthz",
    "/",
    "/trending",
    "/feeds/daily.atom",
    "/feeds/trending.rss",
    "/api/daily_papers",
    "/api/papers/2611.00001",
    "/papers/2611.00001",
    "/static/app.css",
]


def test_head_answers_like_get_without_a_body(app_client: TestClient) -> None:
    add_paper(app_client)
    for path in HEAD_PATHS:
        got = app_client.get(path)
        head = app_client.head(path)
        assert head.status_code == got.status_code == 200, (path, head.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        if "etag" in got.headers:
            assert head.headers["etag"] == got.headers["etag"], path
    missing = app_client.head("/api/papers/2699.99999")
    assert missing.status_code == 404 and missing.content == b""


# -- item 7: headers and cookies ----------------------------------------------------------


def test_every_answer_carries_the_security_headers(app_client: TestClient) -> None:
    add_paper(app_client)
    for path in [*HEAD_PATHS, "/no/such/page", "/api/papers/2699.99999", "/docs"]:
        answer = app_client.get(path)
        headers = answer.headers
        csp = headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-eval" not in csp and "cdn" not in csp, path
        assert headers.get("x-content-type-options") == "nosniff", path
        assert headers.get("referrer-policy") == "same-origin", path
        assert headers.get("x-frame-options") == "DENY", path


def test_pages_have_no_inline_script(app_client: TestClient) -> None:
    add_paper(app_client)
    for path in ["/", "/papers/2611.00001", "/account/login", "/docs"]:
        page = app_client.get(path).text
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S):
            assert "src=" in attrs and not body.strip(), (path, attrs, body[:80])


def test_feeds_and_the_api_set_no_cookie(app_client: TestClient) -> None:
    add_paper(app_client)
    fresh = TestClient(app_client.app)
    for path in ["/feeds/daily.atom", "/feeds/trending.rss", "/api/daily_papers", "/healthz"]:
        answer = fresh.get(path)
        assert answer.status_code == 200, path
        assert "set-cookie" not in answer.headers, path
    feed = fresh.get("/feeds/daily.atom")
    assert feed.headers["cache-control"].startswith("public")
    error = fresh.get("/api/papers/2699.99999")
    assert "set-cookie" not in error.headers
    # Pages still hand a new browser its CSRF seed.
    assert "pf_csrf=" in fresh.get("/account/login").headers["set-cookie"]


def test_not_interested_with_the_session_cookie_needs_the_csrf_token(
    app_client: TestClient,
) -> None:
    add_paper(app_client)
    make_member(app_client, "cora")
    log_in(app_client, "cora@example.org")
    forged = app_client.post("/api/me/not-interested/2611.00001")
    assert forged.status_code == 403, forged.text
    assert forged.json()["ok"] is False
    page = app_client.get("/papers/2611.00001")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    marked = app_client.post(
        "/api/me/not-interested/2611.00001", headers={"X-CSRF-Token": csrf.group(1)}
    )
    assert marked.status_code == 200 and marked.json()["not_interested"] is True
    # An API token needs no CSRF token (a browser never sends one by itself).
    auth = token_for(app_client, make_member(app_client, "dan"))
    fresh = TestClient(app_client.app)
    assert fresh.post("/api/me/not-interested/2611.00001", headers=auth).status_code == 200


# -- item 18: bad input -----------------------------------------------------------------


def test_an_impossible_date_is_told_it_is_not_a_real_day(app_client: TestClient) -> None:
    for path in [
        "/api/daily_papers?date=2026-02-30",
        "/api/papers/search?q=graph&after=2026-02-30",
        "/api/papers/search?q=graph%20after:2026-02-30",
    ]:
        answer = app_client.get(path)
        assert answer.status_code == 400, path
        message = answer.json()["error"]
        assert "2026-02-30 is not a real date" in message, (path, message)
        assert "YYYY-MM-DD" not in message
    page = app_client.get("/papers/date/2026-02-30")
    assert page.status_code == 400 and "2026-02-30 is not a real date" in page.text
    wrong = app_client.get("/api/daily_papers?date=yesterday").json()["error"]
    assert "YYYY-MM-DD" in wrong


BAD_INPUT = [
    ("GET", "/api/daily_papers?limit=0", None),
    ("GET", "/api/daily_papers?sort=random", None),
    ("GET", "/api/daily_papers?date=2026-13-01", None),
    ("GET", "/api/papers/search?q=x&mode=psychic", None),
    ("GET", "/feeds/daily.json", None),
    ("GET", "/feeds/category/<x>.rss", None),
    ("POST", "/api/subscriptions", b'{"email": 5}'),
    ("POST", "/api/subscriptions", b'{"email": "a@b.c",}'),
    ("POST", "/api/subscriptions", b"[1]"),
    ("POST", "/api/subscriptions", b'{"email": "not an address"}'),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_INPUT)
def test_bad_input_is_always_400_with_a_clear_message(
    app_client: TestClient, method: str, path: str, body: bytes | None
) -> None:
    answer = app_client.request(
        method, path, content=body, headers={"content-type": "application/json"} if body else {}
    )
    assert answer.status_code == 400, (path, answer.status_code, answer.text)
    envelope = answer.json()
    assert envelope["ok"] is False and envelope["status"] == 400
    message = envelope["error"]
    assert not re.search(r"\b(\w+) \1\b", message), message  # no "at at"
    assert not re.match(r"^\d+:", message), message  # not a bare position


def test_a_json_syntax_error_says_where() -> None:
    from paperfeed.deliver.web.input_checks import validation_message

    message = validation_message(
        [
            {
                "type": "json_invalid",
                "loc": ("body", 18),
                "msg": "JSON decode error",
                "ctx": {"error": "Expecting property name enclosed in double quotes"},
            }
        ]
    )
    assert message == (
        "the body is not valid JSON: Expecting property name enclosed in double quotes "
        "(at character 18)"
    )


def test_the_openapi_document_says_400_for_bad_input(app_client: TestClient) -> None:
    schema = app_client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "422" not in codes, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in codes, (method, path)
