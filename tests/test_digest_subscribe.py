"""Subscribing to the digest through the real pages and API, with a real SMTP server:
double opt-in, consent proof, re-subscribe, change of address, unsubscribe (the confirm
page and RFC 8058's one-click POST), preferences, members, and the rate limit."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from fastapi.testclient import TestClient

from community_support import (
    Inbox,
    app_client,
    clock_of,
    csrf_of,
    inbox,
    log_in,
    make_member,
    smtp,
)
from paperfeed.store import subscriptions as store

__all__ = ["app_client", "inbox", "smtp"]


def _subscribe(client: TestClient, email: str, **extra: str) -> object:
    token = csrf_of(client, "/digest")
    data = {"csrf": token, "email": email, "frequency": "daily", "searches": "", **extra}
    return client.post("/digest/subscribe", data=data, headers={"X-Forwarded-For": "x"})


def _path(link: str) -> str:
    return link.removeprefix("http://testserver")


def _token_in(page: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', page)
    assert match, page[:800]
    return unescape(match.group(1))


def _confirm(client: TestClient, inbox: Inbox, email: str) -> str:
    """Open the mailed link, press the button; the preferences path of the answer."""
    page = client.get(_path(inbox.last_link(email)))
    assert page.status_code == 200 and "Confirm your subscription" in page.text
    done = client.post("/digest/confirm", data={"token": _token_in(page.text)})
    assert done.status_code == 200 and "Subscribed" in done.text, done.text
    match = re.search(r'href="(/digest/preferences\?token=[^"]+)"', done.text)
    assert match
    return unescape(match.group(1))


def _subscriber(client: TestClient, email: str) -> store.Subscriber:
    engine = client.app.state.services.accounts.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        found = store.by_email(conn, email)
    assert found is not None
    return found


def test_home_page_has_the_call_to_action(app_client: TestClient) -> None:
    page = app_client.get("/")
    assert "Get trending papers in your email inbox!" in page.text
    assert 'action="/digest/subscribe"' in page.text


def test_subscribe_forms_need_the_csrf_token(app_client: TestClient, inbox: Inbox) -> None:
    for data in ({"email": "x@example.org"}, {"email": "x@example.org", "csrf": "forged"}):
        answer = app_client.post("/digest/subscribe", data=data)
        assert answer.status_code == 403 and "security token" in answer.text
    assert inbox.messages == []


def test_double_opt_in_stores_consent_and_a_get_changes_nothing(
    app_client: TestClient, inbox: Inbox
) -> None:
    answer = _subscribe(app_client, "Ada@Example.org", searches="training-free adaptation\n\n")
    assert answer.status_code == 200 and "Check your inbox" in answer.text  # type: ignore[attr-defined]
    assert _subscriber(app_client, "ada@example.org").status == "pending"
    (mail,) = inbox.to("ada@example.org")
    assert mail["Subject"] == "Confirm your paperfeed digest"
    # Opening the link (as a mail scanner would) only shows a page.
    app_client.get(_path(inbox.last_link("ada@example.org")))
    assert _subscriber(app_client, "ada@example.org").status == "pending"
    _confirm(app_client, inbox, "ada@example.org")
    sub = _subscriber(app_client, "ada@example.org")
    assert sub.status == "confirmed" and sub.searches == ("training-free adaptation",)
    assert sub.confirmed_at == clock_of(app_client).now()
    assert sub.confirmed_ip == "testclient"
    engine = app_client.app.state.services.accounts.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert [e[0] for e in store.events(conn, sub.id)] == ["request", "confirm"]


def test_the_answer_is_the_same_for_a_known_address(app_client: TestClient, inbox: Inbox) -> None:
    first = _subscribe(app_client, "bo@example.org")
    _confirm(app_client, inbox, "bo@example.org")
    again = _subscribe(app_client, "bo@example.org")
    assert first.text == again.text  # type: ignore[attr-defined]
    last = inbox.to("bo@example.org")[-1]
    assert last["Subject"] == "Your paperfeed digest"
    assert "/digest/preferences?token=" in inbox.last_link("bo@example.org")
    assert _subscriber(app_client, "bo@example.org").status == "confirmed"


def test_expired_and_superseded_confirmation_links_fail(
    app_client: TestClient, inbox: Inbox
) -> None:
    _subscribe(app_client, "cy@example.org")
    old = inbox.last_link("cy@example.org")
    clock_of(app_client).advance(60)
    _subscribe(app_client, "cy@example.org", frequency="weekly")
    token = _token_in(app_client.get(_path(old)).text)
    stale = app_client.post("/digest/confirm", data={"token": token})
    assert stale.status_code == 400 and "not valid" in stale.text
    clock_of(app_client).advance(timedelta(hours=49).total_seconds())
    token = _token_in(app_client.get(_path(inbox.last_link("cy@example.org"))).text)
    expired = app_client.post("/digest/confirm", data={"token": token})
    assert expired.status_code == 400 and "expired" in expired.text
    assert _subscriber(app_client, "cy@example.org").status == "pending"


def test_unsubscribe_page_then_one_click_and_resubscribe(
    app_client: TestClient, inbox: Inbox
) -> None:
    _subscribe(app_client, "di@example.org")
    preferences = _confirm(app_client, inbox, "di@example.org")
    token = preferences.split("token=", 1)[1]
    page = app_client.get(f"/digest/unsubscribe?token={token}")
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert _subscriber(app_client, "di@example.org").status == "confirmed"
    # RFC 8058: a bare POST, no cookies, no CSRF token, the token in the URL.
    bare = TestClient(app_client.app)
    one_click = bare.post(
        f"/digest/unsubscribe?token={token}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "Unsubscribed" in one_click.text
    assert _subscriber(app_client, "di@example.org").status == "unsubscribed"
    assert bare.post(f"/digest/unsubscribe?token={token}x").status_code == 400
    # Subscribing again needs a new confirmation.
    _subscribe(app_client, "di@example.org")
    assert _subscriber(app_client, "di@example.org").status == "pending"
    _confirm(app_client, inbox, "di@example.org")
    assert _subscriber(app_client, "di@example.org").status == "confirmed"


def test_preferences_and_change_of_address(app_client: TestClient, inbox: Inbox) -> None:
    _subscribe(app_client, "ed@example.org")
    preferences = _confirm(app_client, inbox, "ed@example.org")
    page = app_client.get(preferences)
    assert page.status_code == 200 and "ed@example.org" in page.text
    token = _token_in(page.text)
    saved = app_client.post(
        "/digest/preferences",
        data={
            "token": token,
            "frequency": "weekly",
            "searches": "diffusion\ncat:cs.CV video",
            "email": "ed@new.example.org",
        },
    )
    assert saved.status_code == 200 and "takes over once confirmed" in saved.text
    sub = _subscriber(app_client, "ed@example.org")
    assert sub.frequency == "weekly" and sub.searches == ("diffusion", "cat:cs.CV video")
    assert sub.pending_email == "ed@new.example.org"
    _confirm(app_client, inbox, "ed@new.example.org")
    moved = _subscriber(app_client, "ed@new.example.org")
    assert moved.id == sub.id and moved.pending_email is None and moved.status == "confirmed"
    # The old links carried the old link key: they no longer work.
    assert app_client.get(preferences).status_code == 400
    bad = app_client.post(
        "/digest/preferences", data={"token": token, "frequency": "daily", "searches": "-only"}
    )
    assert bad.status_code == 400


def test_invalid_input_is_shown_on_the_form(app_client: TestClient) -> None:
    answer = _subscribe(app_client, "not an address")
    assert answer.status_code == 400 and "valid e-mail" in answer.text  # type: ignore[attr-defined]
    answer = _subscribe(app_client, "fi@example.org", searches="-excluded")
    assert answer.status_code == 400 and "give some words" in answer.text  # type: ignore[attr-defined]


def test_api_answers_202_for_known_and_unknown_addresses(
    app_client: TestClient, inbox: Inbox
) -> None:
    body = {"email": "gu@example.org", "frequency": "weekly", "searches": ["graph networks"]}
    first = app_client.post("/api/subscriptions", json=body)
    assert first.status_code == 202 and first.json()["ok"] is True
    _confirm(app_client, inbox, "gu@example.org")
    second = app_client.post("/api/subscriptions", json=body)
    assert second.status_code == 202 and second.json() == first.json()
    sub = _subscriber(app_client, "gu@example.org")
    assert sub.frequency == "weekly" and sub.searches == ("graph networks",)
    bad = app_client.post(
        "/api/subscriptions", json={"email": "x@example.org", "frequency": "hourly"}
    )
    assert bad.status_code == 400 and bad.json()["ok"] is False


def test_a_flood_from_one_ip_is_rate_limited(app_client: TestClient, inbox: Inbox) -> None:
    limit = app_client.app.state.hub.settings.subscribe_ip_limit  # type: ignore[attr-defined]
    answers = [
        app_client.post("/api/subscriptions", json={"email": f"f{n}@example.org"}).status_code
        for n in range(limit + 3)
    ]
    assert answers[:limit] == [202] * limit
    assert answers[limit:] == [429] * 3
    refused = app_client.post("/api/subscriptions", json={"email": "late@example.org"})
    assert int(refused.headers["Retry-After"]) > 0
    assert len(inbox.messages) == limit
    web = _subscribe(app_client, "web@example.org")
    assert web.status_code == 429  # type: ignore[attr-defined]


def test_members_subscribe_from_their_settings(app_client: TestClient, inbox: Inbox) -> None:
    member = make_member(app_client, "hana")
    engine = app_client.app.state.services.accounts.engine  # type: ignore[attr-defined]
    from paperfeed.store import users
    from paperfeed.store.engine import writing

    with writing(engine) as conn:
        users.mark_verified(conn, member.id, clock_of(app_client).now())
    log_in(app_client, "hana@example.org")
    assert "/account/digest" in app_client.get("/account/settings").text
    page = app_client.get("/account/digest")
    assert page.status_code == 200 and "hana@example.org" in page.text
    token = csrf_of(app_client, "/account/digest")
    saved = app_client.post(
        "/account/digest",
        data={"csrf": token, "frequency": "daily", "searches": "protein folding"},
    )
    assert saved.status_code == 200 and "gets the daily digest" in saved.text
    sub = _subscriber(app_client, "hana@example.org")
    assert sub.status == "confirmed" and sub.user_id == member.id
    assert sub.searches == ("protein folding",)
    assert inbox.to("hana@example.org") == []  # the address was verified at sign-up
    no_csrf = app_client.post("/account/digest", data={"frequency": "weekly"})
    assert no_csrf.status_code == 403
