"""The steering page's store functions, on SQLite and PostgreSQL: what the page reads of a
member, seeds matched by arXiv id, DOI or title, and the limit on follows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.errors import InvalidInputError
from paperfeed.models import Paper, normalise_title
from paperfeed.store import follows, steering, users
from paperfeed.store import papers as store
from paperfeed.store import recommendations as rec
from paperfeed.store.engine import writing

T = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _setup(engine: Engine) -> tuple[list[int], int, int]:
    papers = [
        Paper(
            title=f"Steering paper {i}",
            abstract="A.",
            arxiv_id=f"2611.0100{i}",
            doi=f"10.1234/Steer.{i}",
            authors=("Ada Lovelace", f"Co Author {i}"),
            categories=("cs.LG",),
            source="t",
        )
        for i in range(4)
    ]
    with writing(engine) as conn:
        pids = list(store.insert_papers(conn, papers, T))
        ada, bob = (
            users.create_user(
                conn, email=f"{n}@x.org", username=n, password_hash="h", role="member", now=T
            ).id
            for n in ("ada", "bob")
        )
    return pids, ada, bob


def test_seeds_match_by_arxiv_id_doi_or_title_and_count_the_matches(engine: Engine) -> None:
    pids, ada, bob = _setup(engine)
    with writing(engine) as conn:
        matched = steering.add_seeds(
            conn,
            user_id=ada,
            arxiv_ids=["2611.01000", "2611.09999"],  # the second is not stored
            dois=["10.1234/STEER.1"],  # DOIs match whatever their case
            title_keys=[normalise_title("Steering paper 2")],
            now=T,
        )
    assert matched == 3
    with engine.connect() as conn:
        version = rec.signal_version(conn, ada)
        seen = steering.read_steering(conn, ada)
        assert steering.read_steering(conn, bob).seed_papers == []  # only ada's
    assert [p.id for p in seen.seed_papers] == pids[:3]
    assert {s.paper_id for s in seen.signals.positives if s.kind == "seed"} == set(pids[:3])

    with writing(engine) as conn:  # seeding the same papers again: counted, nothing changes
        again = steering.add_seeds(
            conn,
            user_id=ada,
            arxiv_ids=["2611.01000"],
            dois=[],
            title_keys=[],
            now=T + timedelta(hours=1),
        )
        nothing = steering.add_seeds(
            conn, user_id=ada, arxiv_ids=[], dois=["10.9/none"], title_keys=["no"], now=T
        )
    assert (again, nothing) == (1, 0)
    with engine.connect() as conn:
        assert rec.signal_version(conn, ada) == version


def test_the_page_reads_topics_feed_follows_and_the_profile_asked_about(engine: Engine) -> None:
    _, ada, _ = _setup(engine)
    with engine.connect() as conn:
        empty = steering.read_steering(conn, ada)
    assert (empty.has_feed, empty.own_topics, empty.follows, empty.profile) == (
        False,
        [],
        [],
        None,
    )
    with writing(engine) as conn:
        rec.add_topic(conn, user_id=ada, query="diffusion models", now=T)
        rec.set_feed_token(conn, user_id=ada, token_hash="h" * 64, now=T)
        follows.follow(
            conn, user_id=ada, name="Ada Lovelace", co_author="", category="cs.LG", now=T
        )
    with engine.connect() as conn:
        seen = steering.read_steering(conn, ada, author="Ada Lovelace")
    assert seen.has_feed is True
    assert seen.own_topics == ["diffusion models"]
    assert [(f.name, f.category) for f in seen.follows] == [("Ada Lovelace", "cs.LG")]
    assert seen.profile is not None
    assert seen.profile.papers == 4
    assert seen.profile.categories == (("cs.LG", 4),)


def test_a_new_follow_past_the_limit_is_refused_an_existing_one_is_not(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ada, bob = _setup(engine)
    monkeypatch.setattr(follows, "MAX_FOLLOWS", 2)
    with writing(engine) as conn:
        for name in ("A One", "B Two"):
            assert follows.follow(conn, user_id=ada, name=name, co_author="", category="", now=T)
    with writing(engine) as conn, pytest.raises(InvalidInputError, match="at most 2 follows"):
        follows.follow(conn, user_id=ada, name="C Three", co_author="", category="", now=T)
    with writing(engine) as conn:
        # Following a name again is no new follow: no refusal, nothing added.
        assert not follows.follow(conn, user_id=ada, name="A One", co_author="", category="", now=T)
        # The limit is each member's own.
        assert follows.follow(conn, user_id=bob, name="C Three", co_author="", category="", now=T)
    with engine.connect() as conn:
        assert [f.name for f in follows.follows_of(conn, ada)] == ["A One", "B Two"]
