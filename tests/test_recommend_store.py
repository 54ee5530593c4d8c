"""Recommendation signals in the store, on SQLite and PostgreSQL: what each signal records,
the signal version changing on every signal, reset, exclusions, topics, the feed token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from paperfeed.models import Paper
from paperfeed.store import collections, subscriptions, users, votes
from paperfeed.store import papers as store
from paperfeed.store import recommendations as rec
from paperfeed.store.engine import writing

T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _setup(engine: Engine) -> tuple[list[int], int, int]:
    with writing(engine) as conn:
        pids = store.insert_papers(
            conn,
            [
                Paper(title=f"Paper {i}", abstract="A.", arxiv_id=f"2611.0000{i}", source="t")
                for i in range(5)
            ],
            T,
        )
        a, b = (
            users.create_user(
                conn, email=f"{n}@x.org", username=n, password_hash="h", role="member", now=T
            ).id
            for n in ("ada", "bob")
        )
    return list(pids), a, b


def test_every_signal_changes_the_version_and_only_the_members(engine: Engine) -> None:
    pids, a, b = _setup(engine)
    seen: set[str] = set()

    def version(user: int) -> str:
        with engine.connect() as conn:
            return rec.signal_version(conn, user)

    seen.add(version(a))
    other = version(b)
    steps = [
        lambda c, t: votes.set_vote(c, paper_id=pids[0], user_id=a, on=True, now=t),
        lambda c, t: collections.put_item(
            c,
            collections.create(c, user_id=a, title="L", description="", public=False, now=t),
            pids[1],
            "",
            t,
        ),
        lambda c, t: rec.add_signal(c, user_id=a, paper_id=pids[2], kind="view", now=t),
        lambda c, t: rec.add_signal(c, user_id=a, paper_id=pids[3], kind="not_interested", now=t),
        lambda c, t: rec.add_signal(c, user_id=a, paper_id=pids[4], kind="seed", now=t),
        lambda c, t: rec.add_topic(c, user_id=a, query="diffusion", now=t),
        lambda c, t: rec.add_exclusion(c, user_id=a, kind="keyword", value="quantum", now=t),
        lambda c, t: rec.update_settings(c, user_id=a, exploration=30, now=t),
        lambda c, t: rec.remove_signal(
            c, user_id=a, paper_id=pids[3], kind="not_interested", now=t
        ),
        lambda c, t: votes.set_vote(c, paper_id=pids[0], user_id=a, on=False, now=t),
        lambda c, t: rec.reset(c, user_id=a, now=t),
    ]
    for n, step in enumerate(steps):
        with writing(engine) as conn:
            step(conn, T + timedelta(minutes=n + 1))
        now_version = version(a)
        assert now_version not in seen, n
        seen.add(now_version)
    assert version(b) == other


def test_signals_of_collects_every_kind_and_reset_forgets(engine: Engine) -> None:
    pids, a, b = _setup(engine)
    with writing(engine) as conn:
        votes.set_vote(conn, paper_id=pids[0], user_id=a, on=True, now=T)
        votes.set_vote(conn, paper_id=pids[4], user_id=b, on=True, now=T)
        cid = collections.create(conn, user_id=a, title="L", description="", public=False, now=T)
        collections.put_item(conn, cid, pids[1], "", T)
        rec.add_signal(conn, user_id=a, paper_id=pids[2], kind="view", now=T)
        rec.add_signal(conn, user_id=a, paper_id=pids[3], kind="not_interested", now=T)
        rec.add_exclusion(conn, user_id=a, kind="author", value="Jane Roe", now=T)
        rec.add_topic(conn, user_id=a, query="video diffusion", now=T)
        sid = subscriptions.create(
            conn, email="ada@x.org", frequency="daily", link_key="k", now=T, user_id=a
        )
        subscriptions.set_searches(conn, sid, ["graph neural networks"])
    with engine.connect() as conn:
        got = rec.signals_of(conn, a)
    assert {(s.paper_id, s.kind) for s in got.positives} == {
        (pids[0], "upvote"),
        (pids[1], "save"),
        (pids[2], "view"),
    }
    assert [s.paper_id for s in got.negatives] == [pids[3]]
    assert got.exclusions.authors == ("Jane Roe",)
    assert got.topics == ("video diffusion", "graph neural networks")

    with writing(engine) as conn:
        rec.reset(conn, user_id=a, now=T + timedelta(hours=1))
    with engine.connect() as conn:
        after = rec.signals_of(conn, a)
        assert votes.voted(conn, a, pids) == {pids[0]}  # the vote itself stays
    assert after.positives == ()
    assert after.negatives == ()
    assert after.topics == ("graph neural networks",)  # the digest's own searches stay
    assert after.exclusions.authors == ("Jane Roe",)
    with writing(engine) as conn:
        votes.set_vote(conn, paper_id=pids[3], user_id=a, on=True, now=T + timedelta(hours=2))
    with engine.connect() as conn:
        assert [s.paper_id for s in rec.signals_of(conn, a).positives] == [pids[3]]


def test_settings_and_feed_token(engine: Engine) -> None:
    _pids, a, _b = _setup(engine)
    with engine.connect() as conn:
        assert rec.settings_of(conn, a) == rec.RecSettings()
    with writing(engine) as conn:
        rec.update_settings(conn, user_id=a, paused=True, exploration=250, now=T)
        rec.set_feed_token(conn, user_id=a, token_hash="f" * 64, now=T)
    with engine.connect() as conn:
        got = rec.settings_of(conn, a)
        assert got.paused and got.exploration == 100
        assert rec.user_by_feed_token(conn, "f" * 64) == a
    with writing(engine) as conn:
        rec.set_feed_token(conn, user_id=a, token_hash=None, now=T)
    with engine.connect() as conn:
        assert rec.user_by_feed_token(conn, "f" * 64) is None
        assert not rec.has_feed_token(conn, a)
