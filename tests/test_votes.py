"""Upvotes: exact under concurrency on SQLite and PostgreSQL, through the store, the form
and the API; toggling; who may vote; votes feeding trending."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from community_support import (
    NOW,
    add_paper,
    app_client,
    clock_of,
    csrf_of,
    inbox,
    log_in,
    make_member,
    post_form,
    smtp,
    token_for,
)
from paperfeed.models import Paper, StoredPaper
from paperfeed.rank.trending import TrendingRule, combined_votes, rank_trending
from paperfeed.store import papers as store
from paperfeed.store import users, votes
from paperfeed.store.engine import writing

__all__ = ["app_client", "inbox", "smtp"]
T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _paper_and_members(engine: Engine, n: int) -> tuple[int, list[int]]:
    with writing(engine) as conn:
        (pid,) = store.insert_papers(
            conn, [Paper(title="Voted", abstract="A.", arxiv_id="2611.00001", source="t")], T
        )
        ids = [
            users.create_user(
                conn,
                email=f"m{i}@x.org",
                username=f"m{i:03d}",
                password_hash="h",
                role="member",
                now=T,
            ).id
            for i in range(n)
        ]
    return pid, ids


def test_fifty_members_voting_at_once_count_fifty(engine: Engine) -> None:
    pid, members = _paper_and_members(engine, 50)

    def up(user_id: int) -> bool:
        with writing(engine) as conn:
            return votes.set_vote(conn, paper_id=pid, user_id=user_id, on=True, now=T)

    with ThreadPoolExecutor(50) as pool:
        changed = list(pool.map(up, members))
    assert all(changed)
    with engine.connect() as conn:
        assert votes.count(conn, pid) == 50
        assert votes.counts(conn, [pid]) == {pid: 50}


def test_one_member_voting_fifty_times_at_once_counts_one(engine: Engine) -> None:
    pid, (member,) = _paper_and_members(engine, 1)

    def up(_: int) -> bool:
        with writing(engine) as conn:
            return votes.set_vote(conn, paper_id=pid, user_id=member, on=True, now=T)

    with ThreadPoolExecutor(50) as pool:
        changed = list(pool.map(up, range(50)))
    assert changed.count(True) == 1
    with engine.connect() as conn:
        assert votes.count(conn, pid) == 1


def test_concurrent_toggles_never_double_count(engine: Engine) -> None:
    pid, (member,) = _paper_and_members(engine, 1)

    def flip(_: int) -> bool:
        with writing(engine) as conn:
            return votes.toggle(conn, paper_id=pid, user_id=member, now=T)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(flip, range(21)))
    with engine.connect() as conn:
        assert votes.count(conn, pid) in (0, 1)
        assert votes.voted(conn, member, [pid]) == ({pid} if votes.count(conn, pid) else set())


def test_api_upvote_toggles_and_answers_the_count(app_client: TestClient) -> None:
    pid = add_paper(app_client, upvotes=7)
    member = make_member(app_client, "ann")
    auth = token_for(app_client, member)
    first = app_client.post("/api/papers/2611.00001/upvote", headers=auth)
    assert first.status_code == 200 and first.json() == {"upvotes": 8, "upvoted": True}
    second = app_client.post(f"/api/papers/pf{pid}/upvote", headers=auth)
    assert second.json() == {"upvotes": 7, "upvoted": False}
    on = app_client.post("/api/papers/2611.00001/upvote", headers=auth, json={"upvoted": True})
    again = app_client.post("/api/papers/2611.00001/upvote", headers=auth, json={"upvoted": True})
    assert on.json() == again.json() == {"upvotes": 8, "upvoted": True}
    assert app_client.post("/api/papers/2611.99999/upvote", headers=auth).status_code == 404


def test_api_upvote_needs_a_valid_token_and_an_allowed_member(app_client: TestClient) -> None:
    add_paper(app_client)
    assert app_client.post("/api/papers/2611.00001/upvote").status_code == 401
    bad = app_client.post("/api/papers/2611.00001/upvote", headers={"Authorization": "Bearer pf_x"})
    assert bad.status_code == 401 and bad.json()["ok"] is False
    member = make_member(app_client, "bob")
    auth = token_for(app_client, member)
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    with writing(accounts.engine) as conn:
        users.set_suspended(conn, member.id, NOW)
    suspended = app_client.post("/api/papers/2611.00001/upvote", headers=auth)
    assert suspended.status_code == 403 and "suspended" in suspended.json()["error"]
    assert app_client.get("/api/papers/2611.00001/upvote").status_code in (404, 405)


def test_fifty_members_through_the_api_at_once(app_client: TestClient) -> None:
    add_paper(app_client)
    headers = [token_for(app_client, make_member(app_client, f"u{i:03d}")) for i in range(50)]

    def up(auth: dict[str, str]) -> int:
        return app_client.post(
            "/api/papers/2611.00001/upvote", headers=auth, json={"upvoted": True}
        ).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(up, headers))
    assert statuses == [200] * 50
    final = app_client.post(
        "/api/papers/2611.00001/upvote", headers=headers[0], json={"upvoted": True}
    )
    assert final.json()["upvotes"] == 50


def test_one_member_through_the_api_fifty_times_at_once(app_client: TestClient) -> None:
    add_paper(app_client)
    auth = token_for(app_client, make_member(app_client, "solo"))

    def up(_: int) -> dict[str, object]:
        answer = app_client.post(
            "/api/papers/2611.00001/upvote", headers=auth, json={"upvoted": True}
        )
        assert answer.status_code == 200
        return dict(answer.json())

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(up, range(50)))
    assert all(a == {"upvotes": 1, "upvoted": True} for a in answers)


def test_upvote_form_without_javascript_and_with_htmx(app_client: TestClient) -> None:
    pid = add_paper(app_client, upvotes=3)
    home = app_client.get("/")
    assert 'action="/papers/id/' not in home.text, "no vote form for visitors"
    assert "<b>3</b>votes" in home.text
    make_member(app_client, "cat")
    log_in(app_client, "cat@example.org")
    home = app_client.get("/")
    assert f'action="/papers/id/{pid}/upvote"' in home.text
    answer = post_form(app_client, f"/papers/id/{pid}/upvote", {"on": "1"}, page="/")
    assert answer.status_code == 303
    assert 'aria-pressed="true"' in app_client.get("/").text
    assert "<b>4</b>votes" in app_client.get("/").text
    token = csrf_of(app_client, "/")
    fragment = app_client.post(
        f"/papers/id/{pid}/upvote",
        data={"csrf": token, "on": "0"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200 and fragment.text.strip().startswith('<div class="votes"')
    assert "<b>3</b>votes" in fragment.text and 'aria-pressed="false"' in fragment.text


def test_unconfirmed_members_cannot_vote(app_client: TestClient, inbox) -> None:  # type: ignore[no-untyped-def]
    add_paper(app_client)
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    accounts.sign_up(email="dan@example.org", username="dan", password="a long password", ip="1")
    with accounts.engine.connect() as conn:
        member = users.by_username(conn, "dan")
    assert member is not None and not member.verified
    answer = app_client.post("/api/papers/2611.00001/upvote", headers=token_for(app_client, member))
    assert answer.status_code == 403 and "confirm" in answer.json()["error"]


def test_trending_counts_hub_votes(app_client: TestClient) -> None:
    quiet = add_paper(app_client, "2611.00001", upvotes=0)
    add_paper(app_client, "2611.00002", upvotes=2)
    for i in range(5):
        auth = token_for(app_client, make_member(app_client, f"t{i:03d}"))
        app_client.post("/api/papers/2611.00001/upvote", headers=auth)
    clock_of(app_client).advance(3600)
    page = app_client.get("/trending")
    assert page.text.index("Paper 2611.00001") < page.text.index("Paper 2611.00002")
    assert f'id="vote-{quiet}"' in page.text


def _stored(pid: int, upvotes: int, featured: datetime) -> StoredPaper:
    paper = Paper(title=f"P{pid}", abstract="a", featured_on=featured.date(), upvotes=upvotes)
    return StoredPaper(pid, paper, featured, featured)


def test_trending_formula_on_fixed_data() -> None:
    zone = ZoneInfo("UTC")
    day = datetime(2026, 11, 20, tzinfo=UTC)
    pool = [_stored(1, 10, day), _stored(2, 0, day + timedelta(days=2)), _stored(3, 1, day)]
    counted = combined_votes(pool, {2: 9, 3: 1})
    assert counted == {1: 10, 2: 9, 3: 2}
    now = day + timedelta(days=3)
    hits = rank_trending(pool, now=now, zone=zone, rule=TrendingRule(1.8, 7), votes=counted)
    # (9+1)/(24+2)^1.8 beats (10+1)/(72+2)^1.8, which beats (2+1)/(72+2)^1.8.
    assert [h.paper_id for h in hits] == [2, 1, 3]
    assert abs(hits[0].score - 10 / 26**1.8) < 1e-12
    steep = rank_trending(pool, now=now, zone=zone, rule=TrendingRule(1.8, 2), votes=counted)
    assert [h.paper_id for h in steep] == [2], "the window leaves out older papers"
