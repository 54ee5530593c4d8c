"""ingest(): dedup, versions, merges, rejections, checkpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func, select

from paperfeed.clock import FrozenClock
from paperfeed.ingest.pipeline import IngestOptions, ingest
from paperfeed.models import Paper, Rejection, Version
from paperfeed.store import ingest_state
from paperfeed.store import papers as store
from paperfeed.store.tables.jobs import ingest_runs
from paperfeed.store.tables.papers import papers
from tests_support import ListSource


def paper(n: int, **kw: object) -> Paper:
    base = Paper(
        title=f"Paper number {n}",
        abstract=f"Abstract {n}.",
        arxiv_id=f"2611.{n:05d}",
        version=1,
        versions=(Version(1, datetime(2026, 11, 1, tzinfo=UTC)),),
        authors=("A. Author", "B. Author"),
        categories=("cs.LG",),
        primary_category="cs.LG",
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
        source="test",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())


def test_new_then_unchanged(engine: Engine, clock: FrozenClock) -> None:
    source = ListSource([paper(i) for i in range(5)])
    first = ingest(engine, source, clock=clock, options=IngestOptions(batch_size=2))
    assert (first.fetched, first.new, first.unchanged, first.completed) == (5, 5, 0, True)
    second = ingest(engine, source, clock=clock)
    assert (second.fetched, second.new, second.unchanged) == (5, 0, 5)
    assert count(engine) == 5


def test_newer_version_replaces_metadata_and_keeps_history(
    engine: Engine, clock: FrozenClock
) -> None:
    ingest(engine, ListSource([paper(1)]), clock=clock)
    v2 = paper(
        1,
        title="Paper number 1, revised",
        version=2,
        versions=(Version(2, datetime(2026, 11, 10, tzinfo=UTC)),),
    )
    report = ingest(engine, ListSource([v2]), clock=clock)
    assert report.updated == 1
    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, "2611.00001")
    assert stored is not None
    assert stored.paper.title == "Paper number 1, revised"
    assert [v.number for v in stored.paper.versions] == [1, 2]
    assert stored.paper.version == 2
    # An older version arriving later changes nothing.
    stale = ingest(engine, ListSource([paper(1, title="Old title")]), clock=clock)
    assert stale.unchanged == 1


def test_hf_record_adds_featured_day_and_upvotes_without_clobbering_arxiv_metadata(
    engine: Engine, clock: FrozenClock
) -> None:
    ingest(engine, ListSource([paper(7)]), clock=clock)
    hf = Paper(
        title="paper number 7",
        abstract="A shorter summary.",
        arxiv_id="2611.00007",
        featured_on=date(2026, 11, 20),
        upvotes=42,
        code_url="https://github.com/x/y",
        source="hf-daily",
    )
    report = ingest(engine, ListSource([hf]), clock=clock)
    assert report.updated == 1
    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, "2611.00007")
    assert stored is not None
    got = stored.paper
    assert (got.title, got.abstract, got.source) == ("Paper number 7", "Abstract 7.", "test")
    assert (got.featured_on, got.upvotes, got.code_url) == (date(2026, 11, 20), 42, hf.code_url)
    # Featured at most once: a later listing on another day keeps the first day.
    again = ingest(
        engine, ListSource([replace(hf, featured_on=date(2026, 11, 21), upvotes=50)]), clock=clock
    )
    assert again.updated == 1
    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, "2611.00007")
    assert stored is not None
    assert (stored.paper.featured_on, stored.paper.upvotes) == (date(2026, 11, 20), 50)


def test_id_less_paper_merges_by_title_and_by_doi(engine: Engine, clock: FrozenClock) -> None:
    sample = Paper(title="Feed-Forward 4D Scenes", abstract="About scenes.", source="sample")
    ingest(engine, ListSource([sample]), clock=clock)
    with_id = paper(3, title="Feed-forward 4D scenes", doi="10.1/abc")
    report = ingest(engine, ListSource([with_id]), clock=clock)
    assert (report.merged, report.new) == (1, 0)
    assert "by title" in report.merges[0]
    by_doi = ingest(
        engine, ListSource([Paper(title="Different", abstract="", doi="10.1/ABC")]), clock=clock
    )
    assert by_doi.merged == 1
    assert "by DOI" in by_doi.merges[0]
    assert count(engine) == 1
    with engine.connect() as conn:
        stored = store.get_by_arxiv_id(conn, "2611.00003")
    assert stored is not None
    assert stored.paper.source == "sample"


def test_bad_records_are_rejected_with_reasons_and_nothing_else_is_lost(
    engine: Engine, clock: FrozenClock
) -> None:
    items: list[Paper | Rejection] = [
        paper(1),
        Rejection(2, "invalid JSON: Expecting value", None),
        paper(3, abstract="x" * 10_000_000),
        paper(4, title="   "),
        paper(5, published_at=datetime(1066, 10, 14, tzinfo=UTC)),
        paper(7),
    ]
    report = ingest(engine, ListSource(items), clock=clock)
    assert (report.new, report.rejected, report.fetched) == (2, 4, 6)
    reasons = {r.position: r.reason for r in report.rejections}
    assert reasons[2].startswith("invalid JSON")
    assert "abstract of 10,000,000 characters" in reasons[3]
    assert reasons[4] == "missing title"
    assert reasons[5].startswith("impossible published date 1066-10-14")
    assert count(engine) == 2


def _stored_papers(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                papers.c.arxiv_id, papers.c.version, papers.c.title, papers.c.featured_on
            ).order_by(papers.c.arxiv_id)
        ).all()
    return [tuple(row) for row in rows]


def test_the_result_does_not_depend_on_batch_boundaries(  # type: ignore[no-untyped-def]
    engine: Engine, new_database, clock: FrozenClock, tmp_path
) -> None:
    """Regression: a newer version of an id in the same batch was rejected as a duplicate,
    so one batch kept v1 where two batches kept v2."""
    from paperfeed.store.engine import make_engine

    v2 = paper(
        1,
        title="Paper number 1, revised",
        version=2,
        versions=(Version(2, datetime(2026, 11, 10, tzinfo=UTC)),),
    )
    featured = paper(2, featured_on=date(2026, 11, 20))
    later_listing = paper(2, featured_on=date(2026, 11, 22), upvotes=9)
    items: list[Paper | Rejection] = [paper(1), featured, v2, paper(1), later_listing, paper(3)]
    one = ingest(engine, ListSource(items), clock=clock, options=IngestOptions(batch_size=10))
    other = make_engine(new_database(tmp_path / "other"))
    many = ingest(other, ListSource(items), clock=clock, options=IngestOptions(batch_size=1))
    assert _stored_papers(engine) == _stored_papers(other), (
        _stored_papers(engine),
        _stored_papers(other),
    )
    assert ("2611.00001", 2, "Paper number 1, revised", None) in _stored_papers(engine)
    assert (one.new, one.updated, one.unchanged, one.rejected) == (3, 2, 1, 0), one
    assert (one.new, one.updated, one.unchanged) == (many.new, many.updated, many.unchanged)
    other.dispose()


def test_a_failed_run_keeps_its_checkpoint_and_a_rerun_resumes(
    engine: Engine, clock: FrozenClock
) -> None:
    items: list[Paper | Rejection] = [paper(i) for i in range(10)]
    failing = ListSource(items, fail_after=6)
    report = ingest(engine, failing, clock=clock, options=IngestOptions(batch_size=3))
    assert report.completed is False
    assert report.error == "connection dropped"
    # The two full batches (6 papers) are committed, with the cursor after them.
    assert count(engine) == 6
    with engine.connect() as conn:
        assert ingest_state.read_checkpoint(conn, "test:list") == "6"
    rerun = ListSource(items)
    done = ingest(engine, rerun, clock=clock, options=IngestOptions(batch_size=3))
    assert rerun.started_from == ["6"]
    assert (done.resumed_from, done.new, done.completed) == ("6", 4, True)
    assert count(engine) == 10
    with engine.connect() as conn:
        assert ingest_state.read_checkpoint(conn, "test:list") is None
        runs = conn.execute(select(ingest_runs.c.completed).order_by(ingest_runs.c.id)).all()
    assert [r[0] for r in runs] == [0, 1]


def test_restart_ignores_the_checkpoint(engine: Engine, clock: FrozenClock) -> None:
    items: list[Paper | Rejection] = [paper(i) for i in range(4)]
    ingest(engine, ListSource(items, fail_after=2), clock=clock, options=IngestOptions(2))
    fresh = ListSource(items)
    report = ingest(engine, fresh, clock=clock, restart=True)
    assert fresh.started_from == [None]
    assert (report.unchanged, report.new) == (2, 2)


def test_progress_is_reported_per_batch(engine: Engine, clock: FrozenClock) -> None:
    seen: list[tuple[int, int | None]] = []
    ingest(
        engine,
        ListSource([paper(i) for i in range(5)]),
        clock=clock,
        options=IngestOptions(batch_size=2),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_a_nul_character_in_any_text_field_rejects_the_record_on_both_databases(
    engine: Engine, clock: FrozenClock
) -> None:
    """Regression: only the title and abstract were checked; a NUL in an author, a comment
    or a keyword was stored on SQLite and failed the whole batch on PostgreSQL."""
    items: list[Paper | Rejection] = [
        paper(1, authors=("A.\x00Author",)),
        paper(2, comments="12 pages\x00"),
        paper(3, keywords=("ok", "bad\x00")),
        paper(4),
        paper(5, title="A\x00title"),
        paper(6, abstract="An\x00abstract."),
    ]
    report = ingest(engine, ListSource(items), clock=clock)
    assert (report.new, report.rejected) == (1, 5)
    assert [r.reason for r in report.rejections] == [
        "NUL character in authors",
        "NUL character in comments",
        "NUL character in keywords",
        "NUL character in title",
        "NUL character in abstract",
    ]
    assert count(engine) == 1


HOSTILE_LINKS = {
    "code_url": "javascript:alert(1)",
    "project_url": " JaVaScRiPt:alert(2)",
    "abs_url": "data:text/html,<script>alert(3)</script>",
    "pdf_url": "vbscript:msgbox(4)",
    "thumbnail_url": "java\tscript:alert(5)",
}


def test_links_other_than_http_are_refused_at_the_ingest_edge(
    engine: Engine, clock: FrozenClock
) -> None:
    """Regression: javascript: links from upstream were stored and rendered as href."""
    items: list[Paper | Rejection] = [
        paper(1, **HOSTILE_LINKS),
        paper(2, code_url="https://github.com/o/r", project_url="http://example.org/p"),
    ]
    report = ingest(engine, ListSource(items), clock=clock)
    assert (report.new, report.rejected) == (2, 0)
    with engine.connect() as conn:
        bad = store.get_by_arxiv_id(conn, "2611.00001")
        good = store.get_by_arxiv_id(conn, "2611.00002")
    assert bad is not None and good is not None
    assert (bad.paper.code_url, bad.paper.project_url, bad.paper.thumbnail_url) == (None,) * 3
    # The arXiv links come from the id instead.
    assert bad.paper.abs_url == "https://arxiv.org/abs/2611.00001"
    assert bad.paper.pdf_url == "https://arxiv.org/pdf/2611.00001"
    assert (good.paper.code_url, good.paper.project_url) == (
        "https://github.com/o/r",
        "http://example.org/p",
    )
