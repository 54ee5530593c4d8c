"""The store on SQLite and PostgreSQL: migrations, round trips, dedup lookups."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from paperfeed.models import Paper, Version
from paperfeed.store import featured
from paperfeed.store import papers as store
from paperfeed.store.engine import writing
from paperfeed.store.migrate import current_revision, head_revision
from paperfeed.store.schema import include_object_for, metadata

PAPER = Paper(
    title="Attention Is All You Need",
    abstract="The dominant sequence transduction models are based on complex networks.",
    arxiv_id="1706.03762",
    version=7,
    versions=(
        Version(1, datetime(2017, 6, 12, 17, 57, 34, tzinfo=UTC), "2142kb"),
        Version(7, datetime(2023, 8, 2, 0, 41, 18, tzinfo=UTC), None),
    ),
    doi="10.48550/arXiv.1706.03762",
    authors=("Ashish Vaswani", "Noam Shazeer", "Niki Parmar"),
    categories=("cs.CL", "cs.LG"),
    primary_category="cs.CL",
    published_at=datetime(2017, 6, 12, 17, 57, 34, tzinfo=UTC),
    updated_at=datetime(2023, 8, 2, 0, 41, 18, tzinfo=UTC),
    abs_url="https://arxiv.org/abs/1706.03762",
    pdf_url="https://arxiv.org/pdf/1706.03762",
    code_url="https://github.com/tensorflow/tensor2tensor",
    license="http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    comments="15 pages, 5 figures",
    journal_ref="NeurIPS 2017",
    keywords=("transformer", "attention"),
    featured_on=date(2026, 11, 20),
    upvotes=12,
    source="arxiv-api",
)
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_migrations_reach_head_and_match_the_schema(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_object_for(conn.dialect.name)}
        )
        diff = compare_metadata(context, metadata)
    assert diff == []


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_paper_round_trips_exactly(engine: Engine) -> None:
    with writing(engine) as conn:
        (pid,) = store.insert_papers(conn, [PAPER], NOW)
    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, "1706.03762")
    assert stored is not None
    assert stored.id == pid
    assert stored.paper == PAPER
    assert stored.first_seen_at == NOW
    assert stored.paper.published_at is not None
    assert stored.paper.published_at.tzinfo is not None


def test_update_replaces_children_and_keeps_first_seen(engine: Engine) -> None:
    with writing(engine) as conn:
        (pid,) = store.insert_papers(conn, [PAPER], NOW)
    later = datetime(2026, 11, 24, tzinfo=UTC)
    changed = replace(PAPER, authors=("Noam Shazeer", "Ashish Vaswani"), categories=("cs.LG",))
    with writing(engine) as conn:
        store.update_papers(conn, [(pid, changed)], later)
    with engine.connect() as conn:
        stored = store.get_by_id(conn, pid)
    assert stored is not None
    assert stored.paper.authors == ("Noam Shazeer", "Ashish Vaswani")
    assert stored.paper.categories == ("cs.LG",)
    assert stored.first_seen_at == NOW
    assert stored.changed_at == later


def test_find_matches_by_id_doi_and_title(engine: Engine) -> None:
    titled = Paper(title="A Paper Without Id", abstract="x", source="sample")
    with writing(engine) as conn:
        store.insert_papers(conn, [PAPER, titled], NOW)
    probes = [
        Paper(title="other", abstract="", arxiv_id="1706.03762"),
        Paper(title="other2", abstract="", doi="10.48550/ARXIV.1706.03762"),
        Paper(title="a paper   WITHOUT id!", abstract=""),
    ]
    with engine.connect() as conn:
        matches = store.find_matches(conn, probes)
    assert matches.by_arxiv_id["1706.03762"].paper.title == PAPER.title
    assert matches.by_doi["10.48550/arxiv.1706.03762"].paper.arxiv_id == "1706.03762"
    assert matches.by_title_key["a paper without id"].paper.title == "A Paper Without Id"


def test_featured_lists_order_by_upvotes_then_recency(engine: Engine) -> None:
    day = date(2026, 11, 20)
    rows = [
        replace(PAPER, arxiv_id=f"2611.0000{i}", doi=None, upvotes=u, featured_on=d)
        for i, (u, d) in enumerate([(1, day), (9, day), (5, date(2026, 11, 19)), (3, None)])
    ]
    with writing(engine) as conn:
        store.insert_papers(conn, rows, NOW)
    with engine.connect() as conn:
        listed = featured.featured_between(conn, day, day)
        week = featured.featured_between(conn, date(2026, 11, 16), date(2026, 11, 22))
        latest = featured.latest_featured_day(conn)
    assert [s.paper.arxiv_id for s in listed] == ["2611.00001", "2611.00000"]
    assert [s.paper.upvotes for s in week] == [9, 5, 1]
    assert latest == day


def test_deleting_a_paper_removes_its_children(engine: Engine) -> None:
    from sqlalchemy import delete, func, select

    from paperfeed.store.tables.papers import paper_authors, papers

    with writing(engine) as conn:
        (pid,) = store.insert_papers(conn, [PAPER], NOW)
        conn.execute(delete(papers).where(papers.c.id == pid))
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(paper_authors)).scalar()
    assert left == 0


def test_schema_has_the_expected_tables(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert {"papers", "paper_authors", "paper_categories", "paper_versions"} <= names
    assert {"ingest_checkpoints", "ingest_runs", "alembic_version"} <= names
