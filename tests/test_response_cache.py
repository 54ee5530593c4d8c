"""The list responses cached until the next commit: hits, ETags and 304s, a commit by
another process seen at once, nothing cached for credentials or the clock-driven
trending order, bounded memory, one render for concurrent misses; and the change
marker itself on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from starlette.requests import Request

from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.deliver.web.response_cache import ResponseCache
from paperfeed.models import Paper
from paperfeed.store import featured
from paperfeed.store import papers as store
from paperfeed.store.changes import change_marker
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.tables.papers import papers
from tests_support import CountingMarker

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)
DAY = date(2026, 6, 12)


def _papers(n: int, start: int = 0) -> list[Paper]:
    return [
        Paper(
            title=f"Paper {i}",
            abstract="An abstract.",
            arxiv_id=f"2606.{i:05d}",
            featured_on=DAY,
            upvotes=i,
            source="test",
        ).with_arxiv_links()
        for i in range(start, start + n)
    ]


@pytest.fixture
def app_and_url(db_url: str, tmp_path) -> Iterator[tuple[TestClient, str]]:  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    with writing(engine) as conn:
        store.insert_papers(conn, _papers(5), NOW)
    engine.dispose()
    settings = load_settings(database_url=db_url, frozen_time=NOW, index_dir=str(tmp_path))
    with TestClient(create_app(settings)) as client:
        yield client, db_url


def _get(client: TestClient, url: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """A GET as an API client sends it: without the cookies the hub gives browsers."""
    client.cookies.clear()
    return client.get(url, headers=headers)


def _cache(client: TestClient) -> ResponseCache:
    cache: ResponseCache = client.app.state.hub.responses  # type: ignore[attr-defined]
    return cache


@pytest.mark.slow  # a commit from another process
def test_a_list_is_rendered_once_until_the_next_commit(
    app_and_url: tuple[TestClient, str],
) -> None:
    client, url = app_and_url
    cache = _cache(client)
    first = _get(client, "/api/pf/daily_papers")
    again = _get(client, "/api/pf/daily_papers")
    assert first.status_code == again.status_code == 200
    assert first.content == again.content and first.headers["etag"] == again.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["content-type"] == "application/json"
    assert (cache.misses, cache.hits) == (1, 1)
    assert [i["paper"]["upvotes"] for i in first.json()["data"]] == [4, 3, 2, 1, 0]

    # Another process commits a vote count: the very next request sees it.
    script = """if True:
        import sys
        from sqlalchemy import text
        from paperfeed.store.engine import make_engine, writing
        with writing(make_engine(sys.argv[1])) as conn:
            conn.execute(text("UPDATE papers SET upvotes = 99 WHERE arxiv_id = '2606.00000'"))
    """
    subprocess.run([sys.executable, "-c", script, url], check=True)
    changed = _get(client, "/api/pf/daily_papers")
    assert changed.json()["data"][0]["paper"]["upvotes"] == 99
    assert changed.headers["etag"] != first.headers["etag"]
    assert cache.misses == 2


def test_if_none_match_gets_304(app_and_url: tuple[TestClient, str]) -> None:
    client, _ = app_and_url
    etag = _get(client, "/api/pf/daily_papers").headers["etag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer = _get(client, "/api/pf/daily_papers", {"If-None-Match": header})
        assert answer.status_code == 304 and answer.content == b"", header
        assert answer.headers["etag"] == etag
    assert _get(client, "/api/pf/daily_papers", {"If-None-Match": '"other"'}).status_code == 200


def test_each_query_is_its_own_entry_and_errors_are_not_kept(
    app_and_url: tuple[TestClient, str],
) -> None:
    client, _ = app_and_url
    cache = _cache(client)
    assert len(_get(client, "/api/pf/daily_papers?limit=2").json()["data"]) == 2
    assert len(_get(client, "/api/pf/daily_papers?limit=3").json()["data"]) == 3
    assert len(_get(client, "/api/pf/daily_papers?limit=2").json()["data"]) == 2
    assert (cache.misses, cache.hits) == (2, 1)
    for _ in range(2):
        bad = _get(client, "/api/pf/daily_papers?week=2026-W99")
        assert bad.status_code == 400 and bad.json()["ok"] is False
    assert (cache.misses, cache.hits) == (4, 1)


def test_credentials_and_trending_bypass_the_cache(app_and_url: tuple[TestClient, str]) -> None:
    client, _ = app_and_url
    cache = _cache(client)
    _get(client, "/api/pf/daily_papers")
    for headers in ({"Cookie": "pf_session=x"}, {"Authorization": "Bearer pf_x"}):
        answer = _get(client, "/api/pf/daily_papers", headers)
        assert answer.status_code == 200 and "etag" in answer.headers
    for _ in range(2):
        assert _get(client, "/api/pf/daily_papers?sort=trending").status_code == 200
    assert (cache.misses, cache.hits) == (1, 0)


def test_the_cache_can_be_turned_off(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        database_url=db_url, frozen_time=NOW, index_dir=str(tmp_path), response_cache_mb=0
    )
    with TestClient(create_app(settings)) as client:
        assert _get(client, "/api/pf/daily_papers").status_code == 200
        assert "etag" in _get(client, "/api/pf/daily_papers").headers
        assert not _cache(client).enabled and _cache(client).hits == 0


def _request() -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    )


def test_memory_is_bounded_least_recently_used_out() -> None:
    cache = ResponseCache(CountingMarker(), max_bytes=250)

    async def main() -> None:
        for key in ("a", "b", "a", "c"):  # 100 bytes each: "b" goes when "c" comes
            await cache.respond(_request(), key, lambda: (b"x" * 100, "text/plain"))
        for key in ("a", "c", "b"):
            await cache.respond(_request(), key, lambda: (b"x" * 100, "text/plain"))

    asyncio.run(main())
    assert (cache.misses, cache.hits) == (4, 3)


def test_concurrent_misses_render_once() -> None:
    marker = CountingMarker()
    cache = ResponseCache(marker, max_bytes=10_000)
    renders = 0
    gate = threading.Event()

    def render() -> tuple[bytes, str]:
        nonlocal renders
        renders += 1
        gate.wait(5)
        return b"body", "text/plain"

    async def main() -> list[bytes]:
        tasks = [asyncio.create_task(cache.respond(_request(), "k", render)) for _ in range(5)]
        await asyncio.sleep(0.2)
        gate.set()
        return [bytes(r.body) for r in await asyncio.gather(*tasks)]

    assert asyncio.run(main()) == [b"body"] * 5
    assert renders == 1
    marker.value += 1  # a commit: the next request renders again
    asyncio.run(cache.respond(_request(), "k", render))
    assert renders == 2


def test_the_marker_moves_with_every_commit(engine: Engine) -> None:
    marker = change_marker(engine)
    assert marker is not None
    with writing(engine) as conn:
        (pid,) = store.insert_papers(conn, _papers(1), NOW)
    before = marker.read()
    assert marker.read() == before  # nothing committed in between
    with engine.connect() as conn:
        featured.featured_between(conn, DAY, DAY)  # reading changes nothing
    assert marker.read() == before
    with writing(engine) as conn:
        conn.execute(update(papers).where(papers.c.id == pid).values(upvotes=7))
    assert marker.read() != before
    marker.close()


@pytest.mark.sqlite_only
def test_no_marker_for_an_in_memory_database() -> None:
    assert change_marker(make_engine("sqlite://")) is None
