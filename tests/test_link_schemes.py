"""No page or JSON answer carries a link other than http(s), even for a paper stored
before ingestion refused them (refs #15)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.models import Paper
from paperfeed.store import papers as store
from paperfeed.store.engine import make_engine, writing

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)
HOSTILE = ("javascript:", "data:", "vbscript:")


@pytest.fixture
def client(db_url: str, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    engine: Engine = make_engine(db_url)
    stored_earlier = Paper(
        title="A paper stored before links were checked",
        abstract="Its links came from a hostile upstream.",
        arxiv_id="2606.11111",
        featured_on=NOW.date(),
        published_at=NOW,
        source="test",
        abs_url="javascript:alert(1)",
        pdf_url="data:text/html,x",
        code_url="JavaScript:alert(2)",
        project_url="vbscript:alert(3)",
        thumbnail_url="javascript:alert(4)",
    )
    with writing(engine) as conn:
        store.insert_papers(conn, [stored_earlier], NOW)
    engine.dispose()
    settings = load_settings(database_url=db_url, frozen_time=NOW, index_dir=str(tmp_path))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path",
    [
        "/papers/2606.11111",
        "/papers/date/2026-06-13",
        "/api/papers/2606.11111",
        "/api/daily_papers?date=2026-06-13",
        "/api/pf/daily_papers?date=2026-06-13",
    ],
)
def test_no_answer_carries_a_link_other_than_http(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[:300]
    text = answer.text.lower()
    assert not any(scheme in text for scheme in HOSTILE), re.findall(r".{40}script:.{20}", text)
