"""The recommendation corpus kept up to date: after an ingest the tf-idf rows of new and
changed papers are made with the fitted vocabulary, the rest kept; past a share of new
papers (or without a journal to follow) everything is fitted again."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Engine, update

from paperfeed.index import recommend_cache
from paperfeed.index.embedder import paper_text
from paperfeed.index.recommend_cache import FeatureCache
from paperfeed.index.recommend_features import Features
from paperfeed.index.term_view import transform_terms
from paperfeed.index.vectors import store_vectors
from paperfeed.ingest.sample import load_sample_rows
from paperfeed.models import Paper
from paperfeed.store.engine import writing
from paperfeed.store.papers import insert_papers
from paperfeed.store.tables.papers import papers

NOW = datetime(2026, 11, 23, tzinfo=UTC)
MODEL = "m"


def _seed_texts() -> list[tuple[str, str]]:
    """The 660 seed-page papers (title, abstract), from the copy shipped in the package."""
    return [(row.title, row.abstract) for row in load_sample_rows()]


def _add(engine: Engine, pairs: list[tuple[str, str]], start: int) -> list[int]:
    batch = [
        Paper(title=t, abstract=a, arxiv_id=f"2601.{start + i:05d}")
        for i, (t, a) in enumerate(pairs)
    ]
    with writing(engine) as conn:
        ids = insert_papers(conn, batch, NOW)
        store_vectors(conn, MODEL, ids, _vectors(ids))
    return ids


def _vectors(ids: list[int], salt: int = 0) -> np.ndarray:
    return (
        np.random.default_rng([salt, *ids[:1], len(ids)])
        .standard_normal((len(ids), 8))
        .astype(np.float32)
    )


def _assert_current(features: Features, engine: Engine) -> None:
    """Every row is the fitted vocabulary's row of the paper's text as stored now."""
    with engine.connect() as conn:
        stored = {
            int(pid): paper_text(title, abstract)
            for pid, title, abstract in conn.execute(
                papers.select().with_only_columns(papers.c.id, papers.c.title, papers.c.abstract)
            )
        }
    assert features.terms is not None
    expected = transform_terms(features.vectorizer, [stored[int(p)] for p in features.ids])
    assert abs(features.terms - expected.astype(np.float32)).max() < 1e-6
    assert np.allclose(np.linalg.norm(features.dense, axis=1), 1.0, atol=1e-5)


def test_new_and_changed_papers_get_rows_in_the_fitted_terms(engine: Engine) -> None:
    texts = _seed_texts()
    assert len(texts) == 660
    first = _add(engine, texts[:600], 0)
    cache = FeatureCache(engine, MODEL)
    fitted = cache.features()
    assert (fitted.fitted_on, fitted.added_since_fit, len(fitted.ids)) == (600, 0, 600)
    _assert_current(fitted, engine)

    # An ingest: 60 new papers, and one paper's new version with another abstract.
    added = _add(engine, texts[600:], 600)
    changed = first[7]
    with writing(engine) as conn:
        conn.execute(update(papers).where(papers.c.id == changed).values(abstract=texts[640][1]))
        store_vectors(conn, MODEL, [changed], _vectors([changed], salt=1))
    extended = cache.features()
    assert extended.vectorizer is fitted.vectorizer and extended.vocabulary == fitted.vocabulary
    assert (extended.fitted_on, extended.added_since_fit) == (600, 61)
    assert set(extended.ids.tolist()) == set(first) | set(added)
    _assert_current(extended, engine)
    row_before, row_after = fitted.row_of(changed), extended.row_of(changed)
    assert row_before is not None and row_after is not None
    assert fitted.terms is not None and extended.terms is not None
    assert (fitted.terms[row_before] != extended.terms[row_after]).nnz > 0  # its new abstract
    same = first[8]
    assert (fitted.terms[fitted.row_of(same)] != extended.terms[extended.row_of(same)]).nnz == 0
    assert cache.features() is extended  # nothing changed: nothing done


def test_past_the_refit_share_everything_is_fitted_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _seed_texts()
    _add(engine, texts[:550], 0)
    cache = FeatureCache(engine, MODEL)
    assert cache.features().fitted_on == 550
    monkeypatch.setattr(recommend_cache, "REFIT_SHARE", 0.1)
    _add(engine, texts[550:], 550)  # 110 > 10 % of 550
    refitted = cache.features()
    assert (refitted.fitted_on, refitted.added_since_fit, len(refitted.ids)) == (660, 0, 660)
    _assert_current(refitted, engine)


def test_a_small_hub_is_always_fitted_again(engine: Engine) -> None:
    texts = _seed_texts()
    _add(engine, texts[:300], 0)  # under SMALL_CORPUS: its vectorizer's settings change with size
    cache = FeatureCache(engine, MODEL)
    assert cache.features().fitted_on == 300
    _add(engine, texts[300:310], 300)
    assert (cache.features().fitted_on, cache.features().added_since_fit) == (310, 0)
