"""Pages, JSON API and feeds over one real database: the same lists on every channel,
one error envelope, escaping, conditional GETs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.models import Paper
from paperfeed.store import papers as store
from paperfeed.store.engine import make_engine, writing
from tests_support import seed_hf

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # the day after the fixture's daily list


@pytest.fixture
def client(db_url: str, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    engine: Engine = make_engine(db_url)
    seed_hf(engine, FrozenClock(NOW))
    hostile = Paper(
        title="<script>alert('x')</script> & Escaped",
        abstract="An abstract with <img src=x onerror=alert(1)> and $E=mc^2$.",
        arxiv_id="2606.99999",
        featured_on=datetime(2026, 6, 11).date(),
        source="test",
    )
    with writing(engine) as conn:
        store.insert_papers(conn, [hostile.with_arxiv_links()], NOW)
    engine.dispose()
    settings = load_settings(
        database_url=db_url,
        frozen_time=NOW,
        index_dir=str(tmp_path),
        base_url="https://hub.test",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_home_is_the_latest_day_by_votes(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Daily Papers" in page.text and "June 12, 2026" in page.text
    api = client.get("/api/pf/daily_papers").json()
    titles = [item["title"] for item in api["data"]]
    positions = [page.text.index(t.replace("'", "&#39;")) for t in titles[:5]]
    assert positions == sorted(positions), "page and API list the same order"
    votes = [item["paper"]["upvotes"] for item in api["data"]]
    assert votes == sorted(votes, reverse=True)
    assert 'rel="prev" href="/papers/date/2026-06-11"' in page.text


def test_members_votes_and_comments_count_on_the_list_and_its_api(
    client: TestClient, db_url: str
) -> None:
    """The hub's own votes lift a paper in the votes order on the page and in the API,
    whose ``upvotes`` and ``numComments`` count them."""
    from paperfeed.store import comments, users, votes

    before = client.get("/api/pf/daily_papers").json()["data"]
    last = before[-1]
    top_votes = before[0]["paper"]["upvotes"]
    engine = make_engine(db_url)
    with writing(engine) as conn:
        found = store.get_by_arxiv_id(conn, last["paper"]["arxivId"])
        assert found is not None
        paper_id = found.id
        for i in range(top_votes + 1):
            member = users.create_user(
                conn,
                email=f"c{i}@x.org",
                username=f"c{i}",
                password_hash="h",
                role="member",
                now=NOW,
            )
            votes.set_vote(conn, paper_id=paper_id, user_id=member.id, on=True, now=NOW)
        comments.add(
            conn, paper_id=paper_id, user_id=member.id, parent_id=None, body="Nice", now=NOW
        )
    engine.dispose()
    after = client.get("/api/pf/daily_papers").json()["data"]
    assert after[0]["title"] == last["title"]
    assert after[0]["paper"]["upvotes"] == (last["paper"]["upvotes"] or 0) + top_votes + 1
    # numComments: those imported from Hugging Face plus the hub's visible ones.
    assert after[0]["numComments"] == last["numComments"] + 1
    one = client.get(f"/api/papers/{last['paper']['arxivId']}").json()
    assert one["upvotes"] == after[0]["paper"]["upvotes"]
    assert one["numComments"] == after[0]["numComments"]
    imported = {item["paper"]["id"]: item["numComments"] for item in before}
    assert all(item["numComments"] == imported[item["paper"]["id"]] for item in after[1:])
    page = client.get("/").text
    assert page.index(last["title"].replace("'", "&#39;")) < page.index(
        after[1]["title"].replace("'", "&#39;")
    )


def test_pages_escape_hostile_text(client: TestClient) -> None:
    page = client.get("/papers/date/2026-06-11")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Escaped" in page.text
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    paper = client.get("/papers/2606.99999")
    assert "<img src=x" not in paper.text and "$E=mc^2$" in paper.text


def test_week_month_and_date_picker(client: TestClient) -> None:
    week = client.get("/papers/week/2026-W24")
    assert week.status_code == 200 and "Week 2026-W24" in week.text
    assert week.text.count('class="paper"') == 31
    month = client.get("/papers/month/2026-06")
    assert month.status_code == 200 and "June 2026" in month.text
    picked = client.get("/papers/date", params={"day": "2026-06-12"}, follow_redirects=False)
    assert picked.status_code == 303 and picked.headers["location"] == "/papers/date/2026-06-12"
    for bad in ("/papers/week/2026-W99", "/papers/month/2026-13", "/papers/date/2026-02-30"):
        assert client.get(bad).status_code == 400, bad


#: A page of fifty rich cards (#18: summary, chips, the abstract folded, a typographic
#: thumbnail) stays under this many bytes: about 2.5 kB a card, most of it the abstract.
PAGE_BUDGET = 128_000


def test_pages_stay_small_at_fifty_papers(client: TestClient) -> None:
    page = client.get("/papers/week/2026-W24")
    assert len(page.content) < PAGE_BUDGET


def test_trending_shows_its_formula(client: TestClient) -> None:
    page = client.get("/trending")
    assert "score = (votes + 1) / (hours since featured + 2) ^ gravity" in page.text
    assert "gravity = 1.8" in page.text
    api = client.get(
        "/api/pf/daily_papers", params={"date": "2026-06-12", "sort": "trending"}
    ).json()
    assert api["count"] == 30


def test_paper_page_has_details_bibtex_and_similar(client: TestClient) -> None:
    page = client.get("/papers/2606.12243")
    assert page.status_code == 200
    assert "VIA-SD" in page.text
    assert "@misc{" in page.text and "eprint={2606.12243}" in page.text
    assert "Similar papers" in page.text and page.text.count('class="paper"') == 6
    assert "/static/vendor/katex/katex.min.js" in page.text
    assert client.get("/papers/2606.12243v2", follow_redirects=False).headers["location"] == (
        "/papers/2606.12243"
    )
    assert client.get("/papers/2601.00001").status_code == 404


def test_search_page_highlights_and_explains(client: TestClient) -> None:
    page = client.get("/search", params={"q": "speculative decoding"})
    assert page.status_code == 200
    assert "<mark>Speculative</mark>" in page.text or "<mark>speculative</mark>" in page.text
    empty = client.get("/search")
    assert "Type a few words" in empty.text
    bad = client.get("/search", params={"q": "after:someday"})
    assert bad.status_code == 400 and "after: expected a date" in bad.text


def test_api_search_and_paper_and_similar(client: TestClient) -> None:
    found = client.get(
        "/api/pf/papers/search", params={"q": "speculative decoding", "limit": 3}
    ).json()
    assert found["data"][0]["id"] == "2606.12243"
    assert {"id", "title", "summary", "authors", "publishedAt", "upvotes", "score"} <= set(
        found["data"][0]
    )
    one = client.get("/api/papers/2606.12243v1").json()
    assert one["id"] == "2606.12243" and one["authors"][0] == {"name": "Yuchen Xian"}
    near = client.get("/api/papers/2606.12243/similar", params={"limit": 4}).json()
    assert near["count"] == 4 and "2606.12243" not in [p["id"] for p in near["data"]]


def test_api_pagination_next(client: TestClient) -> None:
    first = client.get("/api/pf/daily_papers", params={"date": "2026-06-12", "limit": 20}).json()
    assert first["count"] == 30 and len(first["data"]) == 20 and first["next"]
    second = client.get(first["next"]).json()
    assert second["count"] == 30 and len(second["data"]) == 10 and second["next"] is None
    ids = [i["paper"]["id"] for i in first["data"] + second["data"]]
    assert len(set(ids)) == 30


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/daily_papers?date=yesterday", 400),
        ("/api/daily_papers?date=2026-06-12&week=2026-W24", 400),
        ("/api/daily_papers?limit=0", 400),
        ("/api/daily_papers?sort=random", 400),
        ("/api/pf/papers/search?q=", 400),
        ("/api/papers/search?q=x&mode=psychic", 400),
        ("/api/papers/2601.00001", 404),
        ("/api/papers/not-an-id", 404),
        ("/api/nothing", 404),
        ("/feeds/daily.json", 400),
    ],
)
def test_errors_share_one_envelope(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False and body["status"] == status and body["error"]


@pytest.mark.parametrize("fmt", ["atom", "rss"])
@pytest.mark.parametrize("path", ["/feeds/daily", "/feeds/trending", "/feeds/search"])
def test_feeds_parse_and_answer_304(client: TestClient, path: str, fmt: str) -> None:
    params = {"q": "language models"} if "search" in path else {}
    response = client.get(f"{path}.{fmt}", params=params)
    assert response.status_code == 200
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.entries and parsed.entries[0].link.startswith("https://hub.test/papers/")
    again = client.get(
        f"{path}.{fmt}", params=params, headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    since = client.get(
        f"{path}.{fmt}",
        params=params,
        headers={"If-Modified-Since": response.headers["last-modified"]},
    )
    assert since.status_code == 304


def test_daily_feed_is_the_daily_list(client: TestClient) -> None:
    feed = feedparser.parse(client.get("/feeds/daily.atom").content)
    api = client.get("/api/pf/daily_papers").json()
    assert [e.title for e in feed.entries] == [i["title"] for i in api["data"]]


def test_category_feed(client: TestClient) -> None:
    response = client.get("/feeds/category/cs.LG.rss")
    assert response.status_code == 200
    assert feedparser.parse(response.content).bozo == 0
    assert client.get("/feeds/category/<x>.rss").status_code == 400


def test_static_assets_and_health(client: TestClient) -> None:
    assert client.get("/static/vendor/katex/katex.min.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/healthz").json()["ok"] is True


def test_a_fifty_paper_page_stays_under_its_budget(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from paperfeed.ingest.pipeline import ingest
    from paperfeed.ingest.sample import SampleSource

    engine = make_engine(db_url)
    ingest(engine, SampleSource(datetime(2026, 11, 23).date()))
    engine.dispose()
    settings = load_settings(
        database_url=db_url,
        frozen_time=datetime(2026, 11, 23, 15, tzinfo=UTC),
        index_dir=str(tmp_path),
    )
    with TestClient(create_app(settings)) as client:
        for path in ("/papers/week/2026-W47", "/papers/month/2026-11", "/trending"):
            page = client.get(path)
            assert page.text.count('class="paper"') == 50, path
            assert len(page.content) < PAGE_BUDGET, (path, len(page.content))


def test_a_search_page_loads_its_cards_votes_in_one_go(client: TestClient) -> None:
    """Regression: search and similar-paper cards each asked the database for their votes
    and submitter (three queries a card); a page now prefetches them once."""
    from sqlalchemy import event

    engine = client.app.state.hub.engine  # type: ignore[attr-defined]
    client.get("/search?q=models")  # warm: word index, vectors
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get("/search?q=language+models&mode=lexical")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200 and page.text.count('class="paper') >= 10
    votes = [s for s in statements if "votes" in s.lower()]
    assert len(votes) <= 2, votes
