"""The recommendation corpus kept up to date: after an ingest the tf-idf rows of new and
changed papers are made with the fitted vocabulary, the rest kept; past a share of new
papers (or without a journal to follow) everything is fitted again."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, delete, update

from paperfeed.index.embedders.embedder import paper_text
from paperfeed.index.lexical import tantivy_index as lexical_tantivy
from paperfeed.index.recommend import cache as recommend_cache
from paperfeed.index.recommend.cache import FeatureCache
from paperfeed.index.recommend.features import Features
from paperfeed.index.recommend.term_view import transform_terms
from paperfeed.index.vectors.in_memory import store_vectors
from paperfeed.ingest.sample import load_sample_rows
from paperfeed.models import Paper
from paperfeed.store.engine import writing
from paperfeed.store.papers import insert_papers
from paperfeed.store.tables.papers import index_state, paper_embeddings, papers

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
    texts = [stored[int(p)] for p in features.ids]
    expected = transform_terms(features.term_vectorizer(), texts)
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


def _file_of(array: np.ndarray) -> str | None:
    """The file an array is a read-only map of (None: the process's own memory)."""
    seen: object = array
    while isinstance(seen, np.ndarray):
        if isinstance(seen, np.memmap) and seen.filename is not None:
            return None if array.flags.writeable else str(seen.filename)
        seen = seen.base
    return None


def test_processes_on_one_index_folder_share_one_set_of_files(
    engine: Engine, tmp_path: Path
) -> None:
    """The first process makes the features and writes them; a second one (another serve
    worker) maps the same files read-only and makes nothing."""
    ids = _add(engine, _seed_texts()[:600], 0)
    first = FeatureCache(engine, MODEL, tmp_path)
    made = first.features()
    second = FeatureCache(engine, MODEL, tmp_path)
    mapped = second.features()
    assert (first.builds, second.builds) == (1, 0)
    assert made.terms is not None and mapped.terms is not None
    for part in ("dense", "ids"):
        assert _file_of(getattr(made, part)) == _file_of(getattr(mapped, part)) is not None
    for part in ("data", "indices", "indptr"):
        assert _file_of(getattr(made.terms, part)) == _file_of(getattr(mapped.terms, part))
        assert _file_of(getattr(mapped.terms, part)) is not None
    assert mapped.ids.tolist() == sorted(ids) and mapped.key == made.key
    assert mapped.row_of(ids[5]) == made.row_of(ids[5]) == 5
    assert mapped.rows_of([ids[3], -1, ids[1]]).tolist() == [3, 1]
    _assert_current(mapped, engine)  # the idf and terms kept make the same rows


def test_files_behind_the_journal_are_brought_up_to_date_once(
    engine: Engine, tmp_path: Path
) -> None:
    """After an ingest the first process to look extends the files (new papers get rows in
    the fitted terms) and replaces them; the others map the new files."""
    texts = _seed_texts()
    _add(engine, texts[:600], 0)
    worker_a = FeatureCache(engine, MODEL, tmp_path)
    before = worker_a.features()
    added = _add(engine, texts[600:], 600)
    worker_b = FeatureCache(engine, MODEL, tmp_path)
    after = worker_b.features()
    assert worker_b.builds == 1 and after.key != before.key
    assert (after.fitted_on, after.added_since_fit) == (600, 60)
    assert set(added) <= set(after.ids.tolist())
    _assert_current(after, engine)
    caught_up = worker_a.features()
    assert worker_a.builds == 1  # its first build only: the new files are mapped
    assert caught_up.key == after.key and _file_of(caught_up.dense) == _file_of(after.dense)
    files = {str(p) for p in tmp_path.iterdir() if ".npy" in p.name}
    assert len(files) == 9 and _file_of(before.dense) not in files  # the old set is deleted
    assert before.dense[0].shape == after.dense[0].shape  # the old map still reads


def test_a_request_never_waits_on_a_build_longer_than_it_is_told(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(engine, _seed_texts()[:100], 0)
    cache = FeatureCache(engine, MODEL, tmp_path)
    release = threading.Event()
    original = FeatureCache._load

    def slow(self: FeatureCache, key: tuple[int, int], previous: Features | None) -> Features:
        assert release.wait(60)
        return original(self, key, previous)

    monkeypatch.setattr(FeatureCache, "_load", slow)
    started = time.monotonic()
    assert cache.ready(0.2) is None
    assert time.monotonic() - started < 5
    release.set()
    assert cache.start().wait(60)
    ready = cache.ready(0.0)
    assert ready is not None and len(ready.ids) == 100


def test_while_an_update_runs_requests_answer_at_once_with_the_files_behind(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that starts while its folder's files are behind the journal answers with
    them (a few papers behind) rather than none; and while their update runs, only the
    request that started it waits for it: the others answer with what is held."""
    first_ids = _add(engine, _seed_texts()[:100], 0)
    FeatureCache(engine, MODEL, tmp_path).features()  # the files, at 100 papers
    more = _add(engine, _seed_texts()[100:110], 100)  # then an ingest
    cache = FeatureCache(engine, MODEL, tmp_path)  # a worker starting now
    release = threading.Event()
    original = FeatureCache._load

    def slow(self: FeatureCache, key: tuple[int, int], previous: Features | None) -> Features:
        assert release.wait(60)
        return original(self, key, previous)

    monkeypatch.setattr(FeatureCache, "_load", slow)
    try:
        behind = cache.ready(0.2)
        assert behind is not None and behind.ids.tolist() == sorted(first_ids)
        started = time.monotonic()
        assert cache.ready(60) is behind  # the update still runs: no second wait
        assert time.monotonic() - started < 30
    finally:
        release.set()
    current = cache.features()  # waits for the update that was running
    assert current.ids.tolist() == sorted(first_ids + more)
    assert cache.ready(60) is current


def test_a_request_counts_the_vectors_again_only_when_the_journal_moved_or_a_while_passed(
    engine: Engine, tmp_path: Path
) -> None:
    ids = _add(engine, _seed_texts()[:100], 0)
    cache = FeatureCache(engine, MODEL, tmp_path)
    held = cache.features()
    with writing(engine) as conn:  # a vector deleted directly: no journal entry
        conn.execute(delete(paper_embeddings).where(paper_embeddings.c.paper_id == ids[0]))
    cache.recount_seconds = 3_600
    assert cache.ready(60) is held  # the version did not move: the count read is trusted
    cache.recount_seconds = 0
    recounted = cache.ready(60)
    assert recounted is not None and recounted.ids.tolist() == sorted(ids[1:])
    cache.recount_seconds = 3_600
    more = _add(engine, _seed_texts()[100:103], 100)  # journaled: the version moves
    moved = cache.ready(60)
    assert moved is not None and moved.ids.tolist() == sorted(ids[1:] + more)


@pytest.mark.slow
def test_a_serving_process_has_a_child_fit_a_large_corpus(engine: Engine, tmp_path: Path) -> None:
    """A full fit past ``in_child_over`` papers runs in a child process (it would hold the
    serving process's interpreter lock for minutes); the serving process maps its files."""
    ids = _add(engine, _seed_texts()[:120], 0)
    cache = FeatureCache(engine, MODEL, tmp_path)
    cache.in_child_over = 100
    features = cache.features()
    assert cache.builds == 0  # made by the child, mapped here
    assert features.ids.tolist() == sorted(ids) and _file_of(features.dense) is not None
    _assert_current(features, engine)
    _add(engine, _seed_texts()[120:125], 120)  # under SMALL_CORPUS: fitted again, in a child
    assert len(cache.features().ids) == 125 and cache.builds == 0


@pytest.mark.slow
def test_a_serving_process_has_a_child_extend_a_very_large_corpus(
    engine: Engine, tmp_path: Path
) -> None:
    """Past ``extend_in_child_over`` papers the rows of new papers are added by a child
    process too (an extension copies every row); below it, in the serving process."""
    texts = _seed_texts()
    ids = _add(engine, texts[:600], 0)
    cache = FeatureCache(engine, MODEL, tmp_path)
    cache.in_child_over = cache.extend_in_child_over = 100
    assert len(cache.features().ids) == 600 and cache.builds == 0
    ids += _add(engine, texts[600:610], 600)
    extended = cache.features()
    assert cache.builds == 0  # extended by the child, mapped here
    assert extended.ids.tolist() == sorted(ids) and extended.added_since_fit == 10
    _assert_current(extended, engine)
    cache.extend_in_child_over = None
    ids += _add(engine, texts[610:615], 610)
    assert len(cache.features().ids) == 615 and cache.builds == 1  # extended here


def test_rows_picked_in_a_run_are_a_view_of_the_matrix_and_others_a_copy() -> None:
    from paperfeed.index.recommend.features import picked_rows

    matrix = np.arange(40, dtype=np.float32).reshape(10, 4)
    for rows in (np.arange(2, 6), np.ones(10, dtype=bool), np.arange(10)):
        got = picked_rows(matrix, rows)
        assert np.shares_memory(got, matrix) and np.array_equal(got, matrix[rows])
    mask = np.zeros(10, dtype=bool)
    mask[[1, 2, 3]] = True
    for rows in (np.array([1, 3, 2]), np.array([0, 2]), mask, np.array([], dtype=np.int64)):
        got = picked_rows(matrix, rows)
        assert np.array_equal(got, matrix[rows]) and got.shape == matrix[rows].shape


def test_another_database_on_the_same_folder_never_gets_these_features(
    engine: Engine, tmp_path: Path
) -> None:
    """The files are named by the database's random identity (the word index's): another
    database with the same papers count and journal version makes its own."""
    assert recommend_cache.IDENTITY == lexical_tantivy.IDENTITY
    _add(engine, _seed_texts()[:50], 0)
    first = FeatureCache(engine, MODEL, tmp_path)
    first.features()
    with writing(engine) as conn:  # as if this were another database
        conn.execute(
            update(index_state)
            .where(index_state.c.name == recommend_cache.IDENTITY)
            .values(value="another-database")
        )
    other = FeatureCache(engine, MODEL, tmp_path)
    other.features()
    assert other.builds == 1
    files = [other.files(), first.files()]
    assert files[0] is not None and files[1] is not None and files[0].stem != files[1].stem
