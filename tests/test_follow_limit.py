"""A member follows at most MAX_FOLLOWS names, whichever form asks: the settings page's
follow form shows the refusal above its forms, the author page's button answers 400, and
following a name already followed is no new follow."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from community_support import app_client, csrf_of, inbox, member_client, post_form, smtp
from paperfeed.store import follows

__all__ = ["app_client", "inbox", "smtp"]  # fixtures

PAGE = "/account/recommendations"
ALERT = re.compile(r'<p class="problem" role="alert">([^<]*)</p>')


def test_a_follow_past_the_limit_is_refused_on_either_form(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follows, "MAX_FOLLOWS", 2)
    browser = member_client(app_client, "fola")
    for name in ("Ada Lovelace", "Grace Hopper"):
        done = post_form(browser, PAGE + "/authors", {"name": name}, page=PAGE)
        assert done.status_code == 303, done.text[:500]

    refused = post_form(browser, PAGE + "/authors", {"name": "Alan Turing"}, page=PAGE)
    assert refused.status_code == 400
    found = ALERT.search(refused.text)
    assert found and unescape(found.group(1)) == "at most 2 follows"
    assert "<h1>Your recommendations</h1>" in refused.text

    token = csrf_of(browser, PAGE)
    by_button = browser.post(
        "/authors/Alan%20Turing/follow", data={"csrf": token}, follow_redirects=False
    )
    assert by_button.status_code == 400
    again = post_form(browser, PAGE + "/authors", {"name": "Ada  Lovelace"}, page=PAGE)
    assert again.status_code == 303  # already followed: nothing new, nothing refused
    page = browser.get(PAGE).text
    assert "Alan Turing" not in page and "Grace Hopper" in page
