"""The lexical index on SQLite FTS5 and PostgreSQL tsvector: in step with the papers,
title weighted highest, the query syntax honoured."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete

from paperfeed.clock import FrozenClock
from paperfeed.index.lexical import database as lexical
from paperfeed.index.query import parse_query
from paperfeed.ingest.hf_daily import HfDailySource
from paperfeed.ingest.pipeline import ingest
from paperfeed.store import papers as store
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import papers
from tests_support import FIXTURES, edit_paper


@pytest.fixture
def hf(engine: Engine, clock: FrozenClock) -> Engine:
    ingest(engine, HfDailySource(FIXTURES / "hf_daily_papers_api.json"), clock=clock)
    return engine


def ids(engine: Engine, text: str, limit: int = 10) -> list[str]:
    with engine.connect() as conn:
        hits = lexical.search(conn, parse_query(text), limit=limit)
        found = store.read_papers(conn, [h.paper_id for h in hits])
    return [found[h.paper_id].paper.arxiv_id or "" for h in hits]


def test_ingest_keeps_the_index_in_step(hf: Engine) -> None:
    with hf.connect() as conn:
        assert lexical.count_indexed(conn) == store.count_papers(conn) == 30


def test_words_rank_title_matches_first(hf: Engine) -> None:
    found = ids(hf, "sparse attention")
    assert found[0] == "2606.13392"  # "MiniMax Sparse Attention"


def test_stemming_and_case(hf: Engine) -> None:
    assert "2606.10896" in ids(hf, "CLUSTERING kernels")  # Flash-GMM: ... Soft Clustering


def test_phrase_and_exclusion(hf: Engine) -> None:
    assert ids(hf, '"on-policy distillation"') == ["2606.09304"]
    with_agents = ids(hf, "agents", limit=30)
    assert "2606.07867" in with_agents
    assert "2606.07867" not in ids(hf, "agents -safety", limit=30)


def test_author_category_and_date_filters(hf: Engine) -> None:
    assert ids(hf, "author:xian") == []  # filters alone rank nothing here; search() lists them
    assert set(ids(hf, "representations decoding image author:xian")) == {
        "2606.12303",
        "2606.12243",
    }
    assert ids(hf, "distillation author:haoran") == ["2606.09304"]
    assert ids(hf, 'distillation author:"haoran xu"') == ["2606.09304"]
    assert ids(hf, "distillation before:2000-01-01") == []


def test_authors_are_searchable(hf: Engine) -> None:
    assert set(ids(hf, "Kocielnik")) == {"2606.00467", "2606.12730"}


def test_hugging_face_keywords_and_summary_are_searchable(hf: Engine) -> None:
    # The phrases are in no title or abstract: one is among 2606.12730's ai_keywords, the
    # other in 2606.00467's ai_summary.
    assert ids(hf, '"behavioral coherence"') == ["2606.12730"]
    assert ids(hf, '"exhibit limited ability"') == ["2606.00467"]


def test_updates_and_deletes_follow_the_papers(hf: Engine) -> None:
    stored_id = edit_paper(
        hf,
        "2606.13392",
        title="Dense Kernels",
        abstract="Nothing more.",
        keywords=("kernels",),
        ai_summary="Kernels, densely.",
    )
    assert "2606.13392" not in ids(hf, "minimax")
    with writing(hf) as conn:
        conn.execute(delete(papers).where(papers.c.id == stored_id))
    assert "2606.13392" not in ids(hf, "dense kernels")
    with hf.connect() as conn:
        assert lexical.count_indexed(conn) == 29


def test_rebuild_restores_the_index(hf: Engine) -> None:
    with writing(hf) as conn:
        assert lexical.rebuild(conn) == 30
    assert ids(hf, "sparse attention")[0] == "2606.13392"
