"""Searches kept until the next commit (Hub.search, Kept in deliver/web/response_cache.py): the
same search asked again, on the search page or through the JSON API, runs once; any
commit (a new paper, a moderator hiding one) makes it run again; and nothing of one
viewer's reaches another: a visitor's kept results carry no vote form nor CSRF token,
a member's page is still rendered for them, each visitor gets a CSRF token of their own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

import paperfeed.deliver.web.hub as hub_module
from community_support import add_paper, app_client, inbox, member_client, post_form, smtp
from tests_support import CountingMarker

__all__ = ["app_client", "inbox", "smtp"]

PAGE = "/search?q=graph&mode=lexical"
API = "/api/papers/search?q=graph&mode=lexical"
_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)"')


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The searches the hub runs (not those it answers from what it kept)."""
    seen: list[str] = []
    original = hub_module.search

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(str(args[2]))
        return original(*args, **kwargs)

    monkeypatch.setattr(hub_module, "search", counting)
    return seen


def _visitor(client: TestClient) -> TestClient:
    """A new browser: no cookies, no account."""
    return TestClient(client.app)


def _settle(client: TestClient) -> None:
    """Search once and let the word index catch up (it commits its progress, which moves
    the change marker), so that what follows starts from a quiet database."""
    assert _visitor(client).get(PAGE).status_code == 200
    words = client.app.state.hub.words  # type: ignore[attr-defined]
    if words is not None:
        words.join()


def test_the_same_search_runs_once_until_the_next_commit(
    app_client: TestClient, runs: list[str]
) -> None:
    add_paper(app_client, title="Graph networks", abstract="graph networks")
    _settle(app_client)
    runs.clear()
    pages = [_visitor(app_client).get(PAGE) for _ in range(3)]
    api = [_visitor(app_client).get(API) for _ in range(2)]
    assert all(p.status_code == 200 and "Graph networks" in p.text for p in pages)
    assert all(a.status_code == 200 for a in api)
    assert [item["title"] for item in api[0].json()] == ["Graph networks"]
    assert len(runs) <= 1  # the page and the API share one search (0: kept from _settle)
    add_paper(app_client, "2611.00002", title="Graph kernels", abstract="graph kernels")
    again = _visitor(app_client).get(PAGE)
    assert "Graph kernels" in again.text and "Graph networks" in again.text
    assert {item["title"] for item in _visitor(app_client).get(API).json()} == {
        "Graph networks",
        "Graph kernels",
    }
    assert len(runs) >= 1


def test_a_hidden_paper_leaves_kept_searches(app_client: TestClient) -> None:
    pid = add_paper(app_client, title="Graph spam", abstract="graph spam")
    add_paper(app_client, "2611.00002", title="Graph networks", abstract="graph networks")
    _settle(app_client)
    visitor = _visitor(app_client)
    assert "Graph spam" in visitor.get(PAGE).text
    assert "Graph spam" in visitor.get(API).text
    moderator = member_client(app_client, "mod", role="moderator")
    answer = post_form(moderator, f"/papers/id/{pid}/hide", {"hidden": "1"}, page="/")
    assert answer.status_code == 303
    for client in (visitor, _visitor(app_client), moderator):
        page = client.get(PAGE).text
        assert "Graph spam" not in page and "Graph networks" in page
    api = _visitor(app_client).get(API).json()
    assert [item["title"] for item in api] == ["Graph networks"]


def test_nothing_of_a_viewer_reaches_another(app_client: TestClient, runs: list[str]) -> None:
    pid = add_paper(app_client, title="Graph networks", abstract="graph networks")
    # A name no random token can hold by chance ("ann" once turned up in a CSP nonce).
    member = member_client(app_client, "quillon7")
    post_form(member, f"/papers/id/{pid}/upvote", {"on": "1"}, page="/")
    _settle(app_client)
    runs.clear()
    first, second = _visitor(app_client), _visitor(app_client)
    seen = [first.get(PAGE).text, member.get(PAGE).text, second.get(PAGE).text]
    visitor_pages = (seen[0], seen[2])
    for page in visitor_pages:
        assert "Graph networks" in page and "<b>1</b>votes" in page
        assert "vote-form" not in page and 'name="csrf"' not in page
        assert "quillon7" not in page
    # Each visitor's page has a token of its own (the page around the kept results).
    tokens = [_META_CSRF.search(page) for page in visitor_pages]
    assert all(tokens) and tokens[0].group(1) != tokens[1].group(1)  # type: ignore[union-attr]
    # The member's page is theirs: their vote, their token, their name.
    mine = seen[1]
    assert 'aria-pressed="true"' in mine and "vote-form" in mine and "quillon7" in mine
    token = _META_CSRF.search(mine)
    assert token and f'name="csrf" value="{token.group(1)}"' in mine
    # One search served all three.
    assert len(runs) <= 1


def test_turned_off_every_search_runs(
    app_client: TestClient, runs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.deliver.web.response_cache import Kept, ResponseCache

    hub = app_client.app.state.hub  # type: ignore[attr-defined]
    monkeypatch.setattr(hub, "kept", Kept(None, 0))
    monkeypatch.setattr(hub, "responses", ResponseCache(None, 0))
    add_paper(app_client, title="Graph networks", abstract="graph networks")
    _settle(app_client)
    runs.clear()
    for _ in range(2):
        assert "Graph networks" in _visitor(app_client).get(PAGE).text
        assert _visitor(app_client).get(API).status_code == 200
    assert len(runs) == 4


def test_kept_values_are_bounded_and_dropped_at_a_commit() -> None:
    from paperfeed.deliver.web.response_cache import Kept

    marker = CountingMarker()
    kept = Kept(marker, max_bytes=250)
    computed: list[str] = []

    def value(key: str) -> str:
        return kept.get(key, lambda: computed.append(key) or key * 100, len)

    for key in ("a", "b", "a", "c"):  # 100 bytes each: "b" goes when "c" comes
        assert value(key) == key * 100
    for key in ("a", "c", "b"):
        value(key)
    assert computed == ["a", "b", "c", "b"]
    marker.value += 1  # a commit: everything is computed again
    value("a")
    assert computed[-1] == "a" and len(computed) == 5

    def failing() -> str:
        raise ValueError("no")

    with pytest.raises(ValueError):
        kept.get("z", failing, len)
    assert kept.get("z", lambda: "z", len) == "z"  # an error is not kept
