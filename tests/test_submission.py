"""Submitting papers: metadata through the arXiv API client (a recorded response replayed
on 127.0.0.1), featured today with "submitted by", featured once, only recent papers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from community_support import (
    EMPTY_FEED as EMPTY,
)
from community_support import (
    community_settings,
    log_in,
    make_member,
    one_entry,
    post_form,
    smtp,
    token_for,
)
from paperfeed.deliver.app import create_app
from paperfeed.errors import InvalidInputError
from paperfeed.ingest.submission import age_problem, parse_reference
from paperfeed.models import Paper
from replay_server import ReplayServer, Reply, replay_server_fixture

__all__ = ["replay_server_fixture", "smtp"]

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # two days after the recorded papers


@pytest.fixture
def client(
    db_url: str, smtp: Any, tmp_path: Any, replay_server: ReplayServer
) -> Iterator[TestClient]:
    settings = community_settings(
        db_url,
        smtp[1],
        tmp_path,
        arxiv_api_url=f"{replay_server.url}/api/query",
        arxiv_delay_seconds=0,
        http_retries=0,
        timezone="UTC",
    ).model_copy(update={"frozen_time": NOW})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _atom(body: str) -> Reply:
    return Reply(200, body, {"Content-Type": "application/atom+xml"})


def test_submit_through_the_api_features_it_today(
    client: TestClient, replay_server: ReplayServer
) -> None:
    replay_server.script("/api/query", _atom(one_entry("2606.13677")))
    auth = token_for(client, make_member(client, "ada"))
    answer = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.13677v1"})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["title"] == "Mana: Dexterous Manipulation of Articulated Tools"
    assert body["submittedBy"] == "ada"
    assert body["submittedOnDailyAt"].startswith("2026-06-13")
    (request,) = replay_server.requests
    assert request.param("id_list") == "2606.13677"
    home = client.get("/")
    assert "Mana: Dexterous Manipulation" in home.text
    assert 'submitted by <b class="username">ada</b>' in home.text
    daily = client.get("/api/pf/daily_papers").json()
    assert [item["paper"]["id"] for item in daily["data"]] == ["2606.13677"]
    paper = client.get("/papers/2606.13677")
    assert 'submitted by <b class="username">ada</b>' in paper.text


def test_a_paper_is_featured_once(client: TestClient, replay_server: ReplayServer) -> None:
    replay_server.script("/api/query", _atom(one_entry("2606.13677")))
    auth = token_for(client, make_member(client, "bob"))
    first = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.13677"})
    assert first.status_code == 201
    other = token_for(client, make_member(client, "cat"))
    again = client.post(
        "/api/papers/submit", headers=other, json={"arxiv_id": "https://arxiv.org/abs/2606.13677"}
    )
    assert again.status_code == 409 and "featured once" in again.json()["error"]
    assert len(replay_server.requests) == 1, "no second request to arXiv"


def test_old_papers_and_unknown_ids_are_refused(
    db_url: str, smtp: Any, tmp_path: Any, replay_server: ReplayServer
) -> None:
    settings = community_settings(
        db_url,
        smtp[1],
        tmp_path,
        arxiv_api_url=f"{replay_server.url}/api/query",
        arxiv_delay_seconds=0,
        http_retries=0,
    ).model_copy(update={"frozen_time": datetime(2026, 7, 1, tzinfo=UTC)})
    with TestClient(create_app(settings)) as client:
        replay_server.script("/api/query", _atom(one_entry("2606.13677")), _atom(EMPTY))
        auth = token_for(client, make_member(client, "dee"))
        old = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.13677"})
        assert old.status_code == 400 and "last 14 days" in old.json()["error"]
        unknown = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.00001"})
        assert unknown.status_code == 404
        bad = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "not an id"})
        assert bad.status_code == 400
        assert client.get("/api/pf/daily_papers").json()["count"] == 0


def test_submission_needs_a_token_and_a_confirmed_member(client: TestClient) -> None:
    assert client.post("/api/papers/submit", json={"arxiv_id": "2606.13677"}).status_code == 401
    accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    accounts.sign_up(email="eve@example.org", username="eve", password="a long password", ip="1")
    from paperfeed.store import users

    with accounts.engine.connect() as conn:
        eve = users.by_username(conn, "eve")
    assert eve is not None
    answer = client.post(
        "/api/papers/submit", headers=token_for(client, eve), json={"arxiv_id": "2606.13677"}
    )
    assert answer.status_code == 403


def test_submit_form(client: TestClient, replay_server: ReplayServer) -> None:
    assert client.get("/submit", follow_redirects=False).status_code == 303
    make_member(client, "fay")
    log_in(client, "fay@example.org")
    assert "arXiv id or link" in client.get("/submit").text
    replay_server.script("/api/query", _atom(one_entry("2606.13591")))
    answer = post_form(client, "/submit", {"arxiv_id": "arXiv:2606.13591"}, page="/submit")
    assert answer.status_code == 303 and answer.headers["location"] == "/papers/2606.13591"
    again = post_form(client, "/submit", {"arxiv_id": "2606.13591"}, page="/submit")
    assert again.status_code == 409 and "featured once" in again.text


def test_arxiv_down_is_a_502(client: TestClient, replay_server: ReplayServer) -> None:
    replay_server.script("/api/query", Reply(503, "down"))
    auth = token_for(client, make_member(client, "gus"))
    answer = client.post("/api/papers/submit", headers=auth, json={"arxiv_id": "2606.13677"})
    assert answer.status_code == 502


def test_pure_decisions() -> None:
    assert parse_reference("https://arxiv.org/pdf/2606.13677v2.pdf") == "2606.13677"
    assert parse_reference(" hep-th/9901001v1 ") == "hep-th/9901001"
    with pytest.raises(InvalidInputError):
        parse_reference("https://example.org/paper")
    paper = Paper(title="t", abstract="a", arxiv_id="2606.1", published_at=NOW)
    assert age_problem(paper, NOW.replace(day=27), 14) is None
    assert "last 14 days" in (age_problem(paper, NOW.replace(day=28), 14) or "")
    assert (
        age_problem(Paper(title="t", abstract="a"), NOW, 14) == "arXiv gives no date for this paper"
    )
    assert date(2026, 6, 13) == NOW.date()
