"""The tantivy word index: the same answers as FTS5 / tsvector, in step with the database
through inserts, version updates, rebuilds, restarts, crashes and a busy writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tantivy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings
from paperfeed.errors import InvalidQueryError
from paperfeed.index.lexical import database as lexical
from paperfeed.index.lexical import tantivy_index as lexical_tantivy
from paperfeed.index.lexical import word_documents
from paperfeed.index.lexical.tantivy_index import WordIndex, word_index
from paperfeed.index.query import parse_query
from paperfeed.ingest.hf_daily import HfDailySource
from paperfeed.ingest.pipeline import ingest
from paperfeed.models import Paper
from paperfeed.store import papers as store
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import papers
from tests_support import FIXTURES, ListSource, edit_paper


@pytest.fixture
def hf(engine: Engine, clock: FrozenClock) -> Engine:
    ingest(engine, HfDailySource(FIXTURES / "hf_daily_papers_api.json"), clock=clock)
    return engine


@pytest.fixture
def words(hf: Engine, tmp_path: Path) -> WordIndex:
    return WordIndex(hf, tmp_path / "index", background=False)


def found(words: WordIndex, text: str, limit: int = 10) -> list[str]:
    """arXiv ids of the tantivy answer, as search() uses it (phrases and exclusions held by
    tantivy itself)."""
    kept = words.search(parse_query(text), limit=limit)
    assert kept is not None, "the tantivy index did not answer"
    with words.engine.connect() as conn:
        stored = store.read_papers(conn, [h.paper_id for h in kept])
    # As search() does: a paper deleted straight from the table is dropped on loading.
    return [stored[h.paper_id].paper.arxiv_id or "" for h in kept if h.paper_id in stored]


def from_sql(engine: Engine, text: str, limit: int = 10) -> list[str]:
    with engine.connect() as conn:
        hits = lexical.search(conn, parse_query(text), limit=limit)
        stored = store.read_papers(conn, [h.paper_id for h in hits])
    return [stored[h.paper_id].paper.arxiv_id or "" for h in hits]


def test_the_first_search_builds_the_index_and_ranks_titles_first(words: WordIndex) -> None:
    assert words.applied_version() is None
    assert found(words, "sparse attention")[0] == "2606.13392"  # "MiniMax Sparse Attention"
    assert words.count() == 30
    assert words.work() == 0


@pytest.mark.parametrize(
    "text",
    [
        "sparse attention",
        "CLUSTERING kernels",
        "language models reasoning",
        '"on-policy distillation"',
        "agents -safety",
        "feed-forward",
        "diffusion cat:cs.CV",
        "models cat:cs",
        "models after:2026-06-01 before:2026-06-30",
        "distillation before:2000-01-01",
        "Kocielnik",
    ],
)
def test_tantivy_finds_what_the_database_finds(hf: Engine, words: WordIndex, text: str) -> None:
    """The same papers match (both rank by bm25 with the title weighted 3; the order of
    near-ties may differ, so the sets are compared, and the best paper when one stands out)."""
    ours, theirs = found(words, text, 30), from_sql(hf, text, 30)
    assert set(ours) == set(theirs), text
    if theirs:
        assert ours[0] == theirs[0] or len(theirs) > 1


def test_author_filters_are_left_to_the_database(words: WordIndex) -> None:
    assert words.search(parse_query("distillation author:haoran"), limit=10) is None


def test_category_and_date_filters_match_sql(hf: Engine, words: WordIndex) -> None:
    assert found(words, "distillation before:2000-01-01") == []
    assert found(words, "models cat:nosuch.XX") == []
    assert set(found(words, "models cat:cs.CL", 30)) == set(from_sql(hf, "models cat:cs.CL", 30))


def test_new_changed_and_deleted_papers_are_followed(
    hf: Engine, words: WordIndex, clock: FrozenClock
) -> None:
    assert found(words, "minimax")[0] == "2606.13392"
    ingest(
        hf,
        ListSource(
            [
                Paper(
                    title="Protein folding with diffusion",
                    abstract="We fold.",
                    arxiv_id="2611.00001",
                )
            ]
        ),
        clock=clock,
    )
    assert found(words, "protein folding") == ["2611.00001"]  # caught up in the search
    stored_id = edit_paper(
        hf,
        "2606.13392",
        title="Dense Kernels",
        abstract="Nothing more.",
        keywords=("kernels",),
        ai_summary=None,
    )
    assert "2606.13392" not in found(words, "minimax")
    assert found(words, "dense kernels")[0] == "2606.13392"
    with writing(hf) as conn:  # straight from the table: no journal entry
        conn.execute(delete(papers).where(papers.c.id == stored_id))
    assert "2606.13392" not in found(words, "dense kernels")
    with writing(hf) as conn:
        lexical.rebuild(conn)
    assert words.work() == 30  # a rebuild of the database's index rebuilds this one
    assert "2606.13392" not in found(words, "dense kernels")
    assert found(words, "protein folding") == ["2611.00001"]
    assert words.count() == 30


def test_a_restart_reuses_the_index_without_recomputation(hf: Engine, tmp_path: Path) -> None:
    first = WordIndex(hf, tmp_path / "index", background=False)
    assert first.refresh() == 30
    again = WordIndex(hf, tmp_path / "index", background=False)
    assert again.work() == 0
    assert again.refresh() == 0
    assert found(again, "sparse attention")[0] == "2606.13392"


def test_a_crash_before_the_state_file_replays_the_changes(
    hf: Engine, words: WordIndex, clock: FrozenClock
) -> None:
    assert words.refresh() == 30
    state_file = words.folder / "state.json"
    before = json.loads(state_file.read_text())
    ingest(
        hf,
        ListSource([Paper(title="Quantum kettles", abstract="Tea.", arxiv_id="2611.00002")]),
        clock=clock,
    )
    assert words.refresh() == 1
    # The commit reached disk, the state file did not: the next refresh replays it.
    state_file.write_text(json.dumps(before))
    restarted = WordIndex(hf, words.root, background=False)
    assert restarted.work() == 1
    assert found(restarted, "quantum kettles") == ["2611.00002"]
    assert restarted.count() == 31  # replayed, not duplicated


def test_a_busy_writer_means_the_database_answers(
    hf: Engine, words: WordIndex, clock: FrozenClock
) -> None:
    assert words.refresh() == 30
    ingest(
        hf,
        ListSource([Paper(title="Busy bees", abstract="Buzz.", arxiv_id="2611.00003")]),
        clock=clock,
    )
    other = tantivy.Index(word_documents.schema(), path=str(words.folder))
    holder = other.writer(heap_size=15_000_000, num_threads=1)  # another process's writer
    try:
        assert words.refresh() is None
        assert words.search(parse_query("busy bees"), limit=5) is None  # FTS5 answers
    finally:
        holder.rollback()
        del holder
    assert found(words, "busy bees") == ["2611.00003"]


def test_a_large_backlog_is_built_in_the_background(
    hf: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lexical_tantivy, "SYNC_CATCH_UP_MAX", 5)
    words = WordIndex(hf, tmp_path / "index", background=True)
    assert words.search(parse_query("sparse attention"), limit=5) is None
    words.join(60)
    assert found(words, "sparse attention")[0] == "2606.13392"


def test_two_databases_never_share_a_folder(engine: Engine, tmp_path: Path) -> None:
    words = WordIndex(engine, tmp_path / "index")
    assert words.folder.name.startswith("words-") and words.folder.name.endswith(
        f"-v{lexical_tantivy.SCHEMA_VERSION}"
    )
    assert WordIndex(engine, tmp_path / "index").folder == words.folder


def test_the_setting_chooses_the_engine(engine: Engine, tmp_path: Path) -> None:
    base = Settings(index_dir=str(tmp_path))
    assert isinstance(word_index(engine, base), WordIndex)  # "auto", on both databases
    assert word_index(engine, base.model_copy(update={"lexical_engine": "database"})) is None
    forced = word_index(engine, base.model_copy(update={"lexical_engine": "tantivy"}))
    assert isinstance(forced, WordIndex)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80))
def test_any_text_compiles_or_is_an_invalid_query(words: WordIndex, text: str) -> None:
    try:
        query = parse_query(text)
    except InvalidQueryError:
        return
    hits = words.search(query, limit=10)
    assert hits is None or isinstance(hits, list)


def test_reconcile_rebuilds_after_deletes_that_bypassed_the_journal(
    hf: Engine, words: WordIndex
) -> None:
    assert words.reconcile() == 30
    assert words.reconcile() == 0  # in step and the same count: nothing to do
    with writing(hf) as conn:
        conn.execute(delete(papers).where(papers.c.id <= 3))
    assert words.count() == 30
    assert words.reconcile() == 27
    assert words.count() == 27


@pytest.mark.parametrize(
    "text",
    [
        'agents "web agent"',
        "agents -safety",
        '"on-policy distillation"',
        "models -language -vision",
    ],
)
def test_tantivy_constrains_candidates_as_fts5_does(
    hf: Engine, words: WordIndex, text: str
) -> None:
    query = parse_query(text)
    with hf.connect() as conn:
        every = [int(i) for i in conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars()]
        expected = lexical.constrain(conn, query, every)
    assert words.constrain(query, every) == expected
    assert words.constrain(query, every[::-1]) == expected[::-1]  # order kept
    assert words.constrain(parse_query("plain words"), every[:5]) == every[:5]
