"""What one search asks the database: counted, so that a round trip per index (each index
reading its own journal version in its own connection) cannot creep back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, event

from paperfeed.clock import FrozenClock
from paperfeed.index import journal
from paperfeed.index import semantic as semantic_module
from paperfeed.index.lexical.tantivy_index import JOURNAL, WordIndex
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vectors import in_memory, pgvector_index
from paperfeed.index.vectors.in_memory import VectorIndex
from paperfeed.ingest.pipeline import ingest
from paperfeed.models import Paper
from paperfeed.rank.search import search
from tests_support import ListSource, seed_hf

QUERY = "speculative decoding verification"


@pytest.fixture
def hub(
    engine: Engine, clock: FrozenClock, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Engine, SemanticIndex, WordIndex]]:
    """The sample papers with tantivy and the vector index, both warm and in step. The
    model check (once a second) and the row-count reconcile (once a minute) are clock
    driven: pinned off, so that the count is of the search, not of the machine's speed."""
    monkeypatch.setattr(semantic_module, "MISMATCH_SECONDS", float("inf"))
    monkeypatch.setattr(in_memory.VectorIndex, "reconcile_seconds", None)
    monkeypatch.setattr(pgvector_index, "REFRESH_SECONDS", 0.0)
    seed_hf(engine, clock)
    semantic = SemanticIndex(engine, embedder="minilm", exact_max=100_000, cache_dir=tmp_path)
    words = WordIndex(engine, tmp_path / "words")
    first = search(engine, semantic, QUERY, limit=5, words=words)
    assert first.hits
    # On PostgreSQL pgvector answers the first search while the memory index loads in the
    # background; a busy machine may finish that load during a measured search (CI counted
    # one more journal read then): counted here is what a settled process runs.
    semantic.join_graph(60)
    assert search(engine, semantic, QUERY, limit=5, words=words).hits
    yield engine, semantic, words


class Counted:
    """Statements sent, connections checked out and transactions begun on an engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: Counter[str] = Counter()
        self.statements: list[str] = []

    def _statement(self, *args: Any, **_: Any) -> None:
        self.counts["statements"] += 1
        self.statements.append(" ".join(str(args[2]).split())[:120])

    def _checkout(self, *_: Any) -> None:
        self.counts["checkouts"] += 1

    def _begin(self, *_: Any) -> None:
        self.counts["transactions"] += 1

    def __enter__(self) -> Counted:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine.pool, "checkout", self._checkout)
        event.listen(self.engine, "begin", self._begin)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine.pool, "checkout", self._checkout)
        event.remove(self.engine, "begin", self._begin)


def _without_begin(statements: list[str]) -> list[str]:
    """The statements of the search itself (SQLite's explicit BEGIN left out)."""
    return [s for s in statements if s.upper() not in ("BEGIN", "BEGIN (IMMEDIATE)")]


def test_one_hybrid_search_reads_the_versions_once_and_the_page_once(hub) -> None:  # type: ignore[no-untyped-def]
    """Both journal versions in one statement, then the hidden papers and the page (the
    papers, then their versions and authors): four statements in two short connections
    (none held while the indexes run, see
    test_search.test_a_search_needs_one_pooled_connection_at_a_time). Before, each index
    read its own version in its own connection: five statements in four connections."""
    engine, semantic, words = hub
    expected = search(engine, semantic, QUERY, limit=5, words=words)
    with Counted(engine) as counted:
        result = search(engine, semantic, QUERY, limit=5, words=words)
    assert [h.paper_id for h in result.hits] == [h.paper_id for h in expected.hits]
    own = _without_begin(counted.statements)
    assert sum("index_state" in s for s in own) == 1, own
    assert len(own) == 4, own
    assert isinstance(semantic.index(), VectorIndex)  # the memory index, on both databases
    assert counted.counts["checkouts"] == 2, (counted.counts, own)


def test_a_version_read_by_search_still_catches_both_indexes_up(hub, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    """The indexes no longer read their own versions during a search: a change journaled
    since the last search is still seen (the versions search read say so)."""
    engine, semantic, words = hub
    with engine.connect() as conn:
        before = journal.read_versions(conn, [JOURNAL, semantic.journal_name(), "nothing"])
    assert before["nothing"] == 0 and before[JOURNAL] > 0 and before[semantic.journal_name()] > 0
    source = ListSource(
        [
            Paper(
                title="Protein folding with diffusion",
                abstract="We fold proteins.",
                arxiv_id="2611.00001",
                featured_on=date(2026, 11, 20),
                source="test",
            )
        ]
    )
    ingest(engine, source, clock=clock, after_batch=semantic.embed_papers)
    with engine.connect() as conn:
        after = journal.read_versions(conn, [JOURNAL, semantic.journal_name()])
    assert after[semantic.journal_name()] > before[semantic.journal_name()]
    for mode, text in (("lexical", "protein folding"), ("semantic", "how do proteins fold")):
        found = search(engine, semantic, text, mode=mode, words=words)
        assert found.papers and found.papers[0].paper.arxiv_id == "2611.00001", mode
