"""Paper ids on the API: one parser for every route that takes one (a bad or unknown id
is a 404 with the error envelope, never a 500), hidden papers are not served, and a
list's ``count`` is the number of papers over all its pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.deliver.community.paper_ref import find_paper
from paperfeed.errors import NotFoundError
from paperfeed.store import moderation, users
from paperfeed.store import papers as store
from paperfeed.store.engine import make_engine, writing
from tests_support import seed_hf

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # the day after the recorded daily list
DAY = "2026-06-12"


@pytest.fixture
def client(db_url: str, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    seed_hf(engine, FrozenClock(NOW))
    engine.dispose()
    settings = load_settings(database_url=db_url, frozen_time=NOW, index_dir=str(tmp_path))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


#: Ids that name no paper: a superscript digit (str.isdigit() takes it, int() does not),
#: numbers beyond the databases' integers, no number at all, a paper not on the hub.
BAD_IDS = (
    "pf%C2%B2",
    "pf1%C2%B2",
    "%C2%B2",
    "pf%EF%BC%91",  # a full-width 1
    "pf99999999999999999999999999",
    "99999999999999999999999",
    "pf2147483648",
    "pf0",
    "pf-1",
    "pf",
    "2601.00001",
)


def test_an_id_that_names_no_paper_is_a_404(client: TestClient) -> None:
    """A 404 envelope from every API route that takes an id, a 404 page for the page."""
    for ident in BAD_IDS:
        for route in ("/api/papers/{}", "/api/papers/{}/similar", "/api/papers/{}/comments"):
            answer = client.get(route.format(ident))
            assert answer.status_code == 404, (route.format(ident), answer.text[:200])
            body = answer.json()
            assert body["ok"] is False and body["status"] == 404 and body["error"], body
        page = client.get(f"/papers/{ident}")
        assert page.status_code == 404, ident
        assert page.headers["content-type"].startswith("text/html"), ident


def test_every_route_parses_ids_in_one_place(db_url: str) -> None:
    """``find_paper``: arXiv ids (any version), ``pfN`` and ``N`` in range, nothing else."""
    engine = make_engine(db_url)
    seed_hf(engine, FrozenClock(NOW))
    with engine.connect() as conn:
        paper = store.get_by_arxiv_id(conn, "2606.12243")
        assert paper is not None
        for ident in ("2606.12243", "2606.12243v3", f"pf{paper.id}", str(paper.id)):
            assert find_paper(conn, ident).id == paper.id, ident
        for ident in ("pf²", "²", "pf１", "pf" + "9" * 30, "pf2147483648", "pf0", "pf", "x"):
            with pytest.raises(NotFoundError):
                find_paper(conn, ident)
    engine.dispose()


def test_a_hidden_paper_is_not_served(client: TestClient, db_url: str) -> None:
    assert client.get("/api/papers/2606.12243").status_code == 200
    near = client.get("/api/papers/2606.00467/similar", params={"limit": 29}).json()
    assert "2606.12243" in [p["id"] for p in near["data"]]
    engine = make_engine(db_url)
    with writing(engine) as conn:
        moderator = users.create_user(
            conn, email="m@x.org", username="mod", password_hash="h", role="moderator", now=NOW
        )
        found = store.get_by_arxiv_id(conn, "2606.12243")
        assert found is not None
        moderation.hide_paper(conn, paper_id=found.id, by=moderator.id, reason="spam", now=NOW)
    engine.dispose()
    for path in (
        "/api/papers/2606.12243",
        f"/api/papers/pf{found.id}",
        "/api/papers/2606.12243/similar",
    ):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.json()["status"] == 404, path
    near = client.get("/api/papers/2606.00467/similar", params={"limit": 29}).json()
    assert len(near["data"]) == 28 and "2606.12243" not in [p["id"] for p in near["data"]]
    listed = client.get("/api/daily_papers", params={"date": DAY}).json()
    assert len(listed) == 29 and "2606.12243" not in [i["paper"]["id"] for i in listed]
    found_by_search = client.get(
        "/api/papers/search", params={"q": "speculative decoding", "mode": "lexical"}
    ).json()
    assert "2606.12243" not in [i["paper"]["id"] for i in found_by_search]


def test_count_is_the_whole_lists_size(client: TestClient) -> None:
    first = client.get("/api/pf/daily_papers", params={"date": DAY, "limit": 7}).json()
    assert first["count"] == 30 and len(first["data"]) == 7 and first["next"]
    last = client.get("/api/pf/daily_papers", params={"date": DAY, "limit": 7, "p": 4}).json()
    assert last["count"] == 30 and len(last["data"]) == 2 and last["next"] is None
    trending = client.get(
        "/api/pf/daily_papers", params={"date": DAY, "limit": 7, "sort": "trending"}
    ).json()
    assert trending["count"] == 30 and len(trending["data"]) == 7
    theirs = client.get(
        "/api/pf/daily_papers", params={"submitter": "RKocielnik", "limit": 1}
    ).json()
    assert theirs["count"] == 2 and len(theirs["data"]) == 1 and theirs["next"]
    found = client.get(
        "/api/pf/papers/search", params={"q": "language models", "mode": "lexical", "limit": 3}
    ).json()
    assert len(found["data"]) == 3 and found["count"] > 3 and found["next"]
    near = client.get("/api/papers/2606.12243/similar", params={"limit": 4}).json()
    assert near["count"] == len(near["data"]) == 4


def test_the_hugging_face_shape_is_a_bare_array(client: TestClient) -> None:
    listed = client.get("/api/daily_papers", params={"date": DAY, "limit": 7})
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    assert len(listed.json()) == 7
    found = client.get("/api/papers/search", params={"q": "speculative decoding", "limit": 3})
    assert isinstance(found.json(), list) and found.json()[0]["paper"]["id"] == "2606.12243"
    item = listed.json()[0]
    assert {"paper", "publishedAt", "title", "summary", "numComments", "submittedBy"} <= set(item)
    assert {"id", "authors", "publishedAt", "submittedOnDailyAt", "upvotes"} <= set(item["paper"])
