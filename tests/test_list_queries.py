"""The list queries stay cheap: the day list is read from its index in order (no sort,
no table), papers without a publication date come last, and migration 0003 goes both ways."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect

from paperfeed.models import Paper
from paperfeed.store import featured
from paperfeed.store import papers as store
from paperfeed.store.engine import writing
from paperfeed.store.migrate import migrate

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DAY = date(2026, 11, 20)
INDEX = "ix_papers_featured_on_upvotes_published_at_id"


def _paper(i: int, upvotes: int, published: datetime | None, day: date | None = DAY) -> Paper:
    return Paper(
        title=f"Paper {i}",
        abstract="An abstract.",
        arxiv_id=f"2611.{i:05d}",
        published_at=published,
        featured_on=day,
        upvotes=upvotes,
        source="test",
    )


def test_the_day_list_orders_by_votes_then_publication_then_id(engine: Engine) -> None:
    t = datetime(2026, 11, 18, tzinfo=UTC)
    rows = [
        _paper(1, 5, t),
        _paper(2, 5, t + timedelta(hours=1)),
        _paper(3, 5, None),  # no publication date: after the dated ones of its vote count
        _paper(4, 9, t),
        _paper(5, 5, t),  # same votes and date as paper 1: the higher id first
        _paper(6, 99, t, day=DAY - timedelta(days=1)),  # another day
    ]
    with writing(engine) as conn:
        store.insert_papers(conn, rows, NOW)
    with engine.connect() as conn:
        day = featured.featured_between(conn, DAY, DAY)
        week = featured.featured_between(conn, DAY - timedelta(days=3), DAY)
        second_page = featured.featured_between(conn, DAY, DAY, limit=2, offset=2)
    order = [s.paper.arxiv_id for s in day]
    assert order == ["2611.00004", "2611.00002", "2611.00005", "2611.00001", "2611.00003"]
    assert [s.paper.arxiv_id for s in week] == ["2611.00006", *order]
    assert [s.paper.arxiv_id for s in second_page] == order[2:4]


@pytest.mark.sqlite_only
def test_the_day_list_reads_its_index_in_order_on_sqlite(sqlite_engine: Engine) -> None:
    from sqlalchemy import select

    from paperfeed.store.tables.papers import papers

    query = (
        select(papers.c.id)
        .where(papers.c.featured_on == DAY)
        .order_by(
            papers.c.upvotes.desc(),
            papers.c.featured_on.desc(),
            papers.c.published_at.desc().nulls_last(),
            papers.c.id.desc(),
        )
        .limit(51)
    )
    compiled = query.compile(sqlite_engine, compile_kwargs={"literal_binds": True})
    with sqlite_engine.connect() as conn:
        plan = " / ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert f"COVERING INDEX {INDEX} (featured_on=?)" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_migration_0003_replaces_the_list_index_and_reverts(engine: Engine) -> None:
    def indexes() -> set[str]:
        return {i["name"] for i in inspect(engine).get_indexes("papers") if i["name"]}

    assert INDEX in indexes() and "ix_papers_featured_on_upvotes" not in indexes()
    migrate_to(engine, "0002")
    assert INDEX not in indexes() and "ix_papers_featured_on_upvotes" in indexes()
    migrate(engine, "0003")
    assert INDEX in indexes() and "ix_papers_featured_on_upvotes" not in indexes()


def migrate_to(engine: Engine, revision: str) -> None:
    """Downgrade (``store.migrate`` only upgrades)."""
    from alembic import command

    from paperfeed.store.migrate import _config

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_week_lists_keep_their_order_with_a_range(engine: Engine) -> None:
    rows = [
        replace(_paper(i, i % 3, NOW), featured_on=DAY - timedelta(days=i % 4)) for i in range(12)
    ]
    with writing(engine) as conn:
        store.insert_papers(conn, rows, NOW)
    with engine.connect() as conn:
        week = featured.featured_between(conn, DAY - timedelta(days=6), DAY)
    keys = [(s.paper.upvotes, s.paper.featured_on, s.id) for s in week]
    assert keys == sorted(keys, reverse=True)


def test_hub_votes_count_in_the_votes_order_and_its_pages(engine: Engine) -> None:
    """Imported upvotes plus members' votes decide the order, whatever page is asked."""
    from paperfeed.store import users, votes

    t = datetime(2026, 11, 18, tzinfo=UTC)
    rng = random.Random(5)
    rows = [
        _paper(i, rng.randint(0, 6), t + timedelta(minutes=rng.randint(0, 3))) for i in range(1, 41)
    ]
    with writing(engine) as conn:
        ids = store.insert_papers(conn, rows, NOW)
        members = [
            users.create_user(
                conn,
                email=f"v{i}@x.org",
                username=f"v{i}",
                password_hash="h",
                role="member",
                now=NOW,
            ).id
            for i in range(8)
        ]
        hub: dict[int, int] = {}
        for pid in rng.sample(ids, 12):
            for member in rng.sample(members, rng.randint(1, 8)):
                votes.set_vote(conn, paper_id=pid, user_id=member, on=True, now=NOW)
                hub[pid] = hub.get(pid, 0) + 1
    by_id = dict(zip(ids, rows, strict=True))
    expected = sorted(
        ids,
        key=lambda pid: ((by_id[pid].upvotes or 0) + hub.get(pid, 0), by_id[pid].published_at, pid),
        reverse=True,
    )
    with engine.connect() as conn:
        whole = [s.id for s in featured.featured_between(conn, DAY, DAY, limit=100)]
        pages = [
            s.id
            for start in range(0, 40, 7)
            for s in featured.featured_between(conn, DAY, DAY, limit=7, offset=start)
        ]
    assert whole == expected
    assert pages == expected
    # A paper with few imported upvotes but many members' votes leads the list.
    assert hub[whole[0]] > 0
