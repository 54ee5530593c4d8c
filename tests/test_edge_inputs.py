"""Input at the edge of what the calendar and the databases hold: a 4xx with the error
envelope, never a 500 (refs #15)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from community_support import community_settings, member_client, post_form, smtp
from paperfeed.deliver.app import create_app

__all__ = ["smtp"]

HUGE = "99999999999999999999999"


@pytest.fixture
def client(db_url: str, smtp: Any, tmp_path: Any) -> Iterator[TestClient]:
    app = create_app(community_settings(db_url, smtp[1], tmp_path))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path",
    [
        "/papers/date/9999-12-31",
        "/papers/week/9999-W52",
        "/papers/month/9999-12",
        "/papers/date/0001-01-01",
        "/papers/week/0001-W01",
        "/papers/month/0001-01",
    ],
)
def test_a_period_at_the_calendars_end_is_a_4xx_page(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert 400 <= answer.status_code < 500, (path, answer.status_code)


@pytest.mark.parametrize(
    "query",
    ["date=9999-12-31", "week=9999-W52", "month=9999-12", "date=0001-01-01", "week=0001-W01"],
)
@pytest.mark.parametrize("path", ["/api/daily_papers", "/api/pf/daily_papers"])
def test_a_period_at_the_calendars_end_is_a_4xx_envelope(
    client: TestClient, path: str, query: str
) -> None:
    answer = client.get(f"{path}?{query}")
    assert 400 <= answer.status_code < 500, (path, query, answer.status_code)
    assert answer.json()["ok"] is False


def test_a_paper_number_too_large_for_the_database_is_a_4xx(client: TestClient) -> None:
    answer = client.get(f"/papers/id/{HUGE}")
    assert 400 <= answer.status_code < 500, answer.status_code


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/account/recommendations/seeds/remove", "paper_id"),
        ("/account/recommendations/authors/remove", "follow_id"),
    ],
)
def test_forms_with_a_number_too_large_for_the_database_are_a_4xx(
    client: TestClient, path: str, field: str
) -> None:
    member = member_client(client, "dora")
    answer = post_form(member, path, {field: HUGE}, page="/account/recommendations")
    assert 400 <= answer.status_code < 500, answer.status_code
