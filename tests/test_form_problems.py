"""A refused form post shows its page again with the problem (web/forms.py): the account
forms keep what was typed and their links, the subscription forms their values, and the
recommendation settings page names the problem above its forms instead of a bare error
page; a rate-limited form says when to try again."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from community_support import (
    PASSWORD,
    Inbox,
    app_client,
    csrf_of,
    inbox,
    make_member,
    member_client,
    post_form,
    smtp,
)

__all__ = ["app_client", "inbox", "smtp"]  # fixtures

ALERT = re.compile(r'<p class="problem" role="alert">([^<]*)</p>')


def _problem(page: str) -> str:
    found = ALERT.search(page)
    assert found, page[:1500]
    return unescape(found.group(1))


def test_a_refused_sign_up_is_the_form_again_with_what_was_typed(app_client: TestClient) -> None:
    data = {"email": "typed@example.org", "username": "typed", "password": "short"}
    answer = post_form(app_client, "/account/signup", data)
    assert answer.status_code == 400
    assert "10 characters" in _problem(answer.text)
    assert 'action="/account/signup"' in answer.text
    assert 'value="typed@example.org"' in answer.text and 'value="typed"' in answer.text
    assert "Log in instead" in answer.text  # the form's own link, as on its GET


def test_a_refused_reset_request_keeps_the_address(app_client: TestClient) -> None:
    for _ in range(10):
        answer = post_form(app_client, "/account/forgot", {"email": "who@example.org"})
        if answer.status_code == 429:
            break
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "too many reset requests" in _problem(answer.text)
    assert 'action="/account/forgot"' in answer.text
    assert 'value="who@example.org"' in answer.text


def test_a_dead_confirmation_link_offers_a_new_one(app_client: TestClient) -> None:
    answer = post_form(app_client, "/account/verify", {"token": "not-a-token"})
    assert answer.status_code == 400 and "not valid" in _problem(answer.text)
    assert 'action="/account/verify"' in answer.text
    assert "Log in to get a new confirmation link" in answer.text


def test_a_refused_subscription_keeps_its_values(app_client: TestClient, inbox: Inbox) -> None:
    token = csrf_of(app_client, "/digest")
    data = {"csrf": token, "email": "no-at-sign", "frequency": "weekly", "searches": "graphs"}
    answer = app_client.post("/digest/subscribe", data=data)
    assert answer.status_code == 400 and "e-mail" in _problem(answer.text)
    assert 'action="/digest/subscribe"' in answer.text and "graphs" in answer.text
    bad_link = app_client.post("/digest/confirm", data={"token": "x.y"})
    assert bad_link.status_code == 400 and "not valid" in _problem(bad_link.text)
    assert 'href="/digest"' in bad_link.text


def test_member_digest_form_shows_the_problem(app_client: TestClient) -> None:
    browser = member_client(app_client, "mira")
    token = csrf_of(browser, "/account/digest")
    data = {"csrf": token, "frequency": "daily", "searches": "-only"}
    answer = browser.post("/account/digest", data=data)
    assert answer.status_code == 400 and "-only" in _problem(answer.text)
    assert 'action="/account/digest"' in answer.text


def test_recommendation_settings_show_the_problem_on_their_page(app_client: TestClient) -> None:
    browser = member_client(app_client, "rena")
    page = "/account/recommendations"
    for path, data, words in [
        (page + "/topics", {"query": "x" * 201}, "give a value of 1 to 200 characters"),
        (page + "/exclusions", {"kind": "planet", "value": "Mars"}, "kind must be one of"),
        (page + "/authors", {"name": "   "}, "give a value of 1 to 200 characters"),
    ]:
        answer = post_form(browser, path, data, page=page)
        assert answer.status_code == 400, (path, answer.status_code)
        assert words in _problem(answer.text)
        assert "<h1>Your recommendations</h1>" in answer.text
        assert 'action="/account/recommendations/topics"' in answer.text
    token = csrf_of(browser, page)
    upload = browser.post(
        page + "/seeds",
        data={"csrf": token},
        files={"file": ("big.bib", b"@article{x,\n" + b"%" * (2 * 2**20 + 10), "text/plain")},
    )
    assert upload.status_code == 400 and "over 2 MB" in _problem(upload.text)
    assert "<h1>Your recommendations</h1>" in upload.text
    # Not logged in: no settings page to show again, the log-in problem as before.
    stranger = TestClient(app_client.app)
    refused = post_form(stranger, page + "/topics", {"query": "graphs"}, page="/account/login")
    assert refused.status_code == 401


def test_a_rate_limited_log_in_says_when_to_try_again(app_client: TestClient) -> None:
    make_member(app_client, "lock")
    for _ in range(6):
        answer = post_form(
            app_client, "/account/login", {"email": "lock@example.org", "password": "wrong one!"}
        )
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert 'action="/account/login"' in answer.text and 'value="lock@example.org"' in answer.text
    assert PASSWORD not in answer.text
