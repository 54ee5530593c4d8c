"""The change marker on PostgreSQL moves the moment a commit becomes visible, also with
``synchronous_commit = off`` (a common tuning, and the test server's setting), where the
write-ahead log position it used to read stays put until the WAL writer flushes: a list
cached right after such a commit was kept as if nothing had changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.models import Paper
from paperfeed.store import papers as store
from paperfeed.store import rate_events
from paperfeed.store.changes import change_marker
from paperfeed.store.engine import make_engine, writing

pytestmark = pytest.mark.postgres_only

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)
DAY = date(2026, 6, 12)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def _paper(n: int) -> Paper:
    return Paper(
        title=f"Paper {n}",
        abstract="An abstract.",
        arxiv_id=f"2606.{n:05d}",
        featured_on=DAY,
        upvotes=n,
        source="test",
    ).with_arxiv_links()


def _async_commit(engine: Engine, work) -> None:  # type: ignore[no-untyped-def]
    with writing(engine) as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        work(conn)


def test_an_asynchronous_commit_moves_the_marker_at_once(pg: Engine) -> None:
    marker = change_marker(pg)
    assert marker is not None and not marker.inline
    for n in range(20):
        before = marker.read()
        _async_commit(pg, lambda conn, n=n: rate_events.record(conn, "test", f"k{n}", NOW))
        assert marker.read() != before, n
    with pg.connect() as conn:
        conn.execute(text("SELECT count(*) FROM rate_events"))  # reading assigns nothing
    assert marker.read() == marker.read()
    marker.close()


def test_a_cached_list_shows_a_paper_committed_asynchronously(
    postgres_url: str, pg: Engine, tmp_path: Path
) -> None:
    with writing(pg) as conn:
        store.insert_papers(conn, [_paper(0)], NOW)
    settings = load_settings(database_url=postgres_url, frozen_time=NOW, index_dir=str(tmp_path))
    with TestClient(create_app(settings)) as client:
        for n in range(1, 11):
            client.cookies.clear()
            listed = client.get("/api/pf/daily_papers")  # cached until the next commit
            assert listed.json()["count"] == n
            _async_commit(pg, lambda conn, n=n: store.insert_papers(conn, [_paper(n)], NOW))
        client.cookies.clear()
        assert client.get("/api/pf/daily_papers").json()["count"] == 11
