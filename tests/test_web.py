"""The first web page and its JSON twin, served from a real database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.models import Paper
from paperfeed.store import papers as store
from paperfeed.store.engine import make_engine, writing

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
BASE = Paper(
    title="Base",
    abstract="An abstract.",
    arxiv_id="2611.00001",
    authors=("Ada Lovelace",),
    source="test",
)


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    engine: Engine = make_engine(sqlite_url)
    rows = [
        replace(
            BASE,
            arxiv_id="2611.00001",
            title="Less voted",
            upvotes=2,
            featured_on=date(2026, 11, 20),
        ),
        replace(
            BASE,
            arxiv_id="2611.00002",
            title="Most voted",
            upvotes=9,
            featured_on=date(2026, 11, 20),
        ),
        replace(
            BASE,
            arxiv_id="2611.00003",
            title="Earlier day",
            upvotes=1,
            featured_on=date(2026, 11, 18),
        ),
        replace(
            BASE,
            arxiv_id="2611.00004",
            title="<script>alert('x')</script> Escaped",
            featured_on=date(2026, 11, 21),
        ),
    ]
    with writing(engine) as conn:
        store.insert_papers(conn, [r.with_arxiv_links() for r in rows], NOW)
    engine.dispose()
    with TestClient(create_app(load_settings(database_url=sqlite_url))) as test_client:
        yield test_client


def test_home_shows_the_latest_day_escaped(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Daily Papers" in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Escaped" in page.text
    assert "<script>alert" not in page.text
    assert 'href="/papers/date/2026-11-20"' in page.text


def test_a_day_lists_papers_by_votes_with_neighbours(client: TestClient) -> None:
    page = client.get("/papers/date/2026-11-20")
    assert page.status_code == 200
    assert page.text.index("Most voted") < page.text.index("Less voted")
    assert "Earlier day" not in page.text
    assert 'rel="prev" href="/papers/date/2026-11-18"' in page.text
    assert 'rel="next" href="/papers/date/2026-11-21"' in page.text


def test_api_daily_papers_is_the_same_list(client: TestClient) -> None:
    body = client.get("/api/daily_papers", params={"date": "2026-11-20"}).json()
    assert body["date"] == "2026-11-20"
    assert [p["id"] for p in body["data"]] == ["2611.00002", "2611.00001"]
    assert body["count"] == 2
    assert body["data"][0]["pdf_url"] == "https://arxiv.org/pdf/2611.00002"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/daily_papers?date=yesterday", 400),
        ("/api/daily_papers?limit=0", 422),
        ("/api/nothing", 404),
    ],
)
def test_api_errors_share_one_envelope(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False
    assert body["status"] == status
    assert body["error"]


def test_bad_day_page_explains_itself(client: TestClient) -> None:
    page = client.get("/papers/date/2026-02-30")
    assert page.status_code == 400
    assert "expected a date as YYYY-MM-DD" in page.text
    assert client.get("/papers/date/1999-01-01").status_code == 200


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json()["ok"] is True
