"""For you from a shortlist (#17): the graph's candidates and the tf-idf postings, scored
with the full model, rank as scoring every paper does; the postings are the largest partial
sums; the features' rows are read from their files without mapping them; files written
before postings get them; papers added since the graph was built are on every shortlist;
and through the app, a member's feed from the shortlist is the feed from every paper, and a
worker loads the graph the shortlist needs while it prepares recommendations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from community_support import NOW, add_paper, community_settings, log_in, make_member, smtp
from paperfeed.deliver.app import create_app
from paperfeed.index.recommend.features import Features, build_features
from paperfeed.index.recommend.files import FeatureFiles
from paperfeed.index.recommend.postings import Postings
from paperfeed.index.recommend.rows import ArrayReader
from paperfeed.index.vectors.hnsw import Graph
from paperfeed.index.vectors.in_memory import VectorIndex
from paperfeed.rank.recommend.decisions import fit, ranked
from paperfeed.rank.recommend.model import DEFAULT_PARAMS, Model, linear_scores
from paperfeed.rank.recommend.shortlist import (
    ShortlistParams,
    ranked_shortlist,
    shortlist,
    term_candidates,
)
from paperfeed.store import votes
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import papers

__all__ = ["smtp"]

TOPICS = {
    "vision": "image segmentation convolution pixels detection camera lens depth",
    "speech": "audio speech recognition acoustic spoken waveform phoneme pitch",
    "graphs": "graph neural message passing nodes edges molecules bonds",
}


def corpus(per_topic: int = 60) -> tuple[Features, dict[str, list[int]]]:
    rng = np.random.default_rng(3)
    centres = {t: rng.standard_normal(16) for t in TOPICS}
    ids, vecs, texts = [], [], []
    by_topic: dict[str, list[int]] = {t: [] for t in TOPICS}
    pid = 1_000
    for topic, words in TOPICS.items():
        vocab = words.split()
        for i in range(per_topic):
            pid += 3
            ids.append(pid)
            vecs.append(centres[topic] + 0.8 * rng.standard_normal(16))
            texts.append(f"{topic} study {i} " + " ".join(rng.choice(vocab, size=10)))
            by_topic[topic].append(pid)
    features = build_features(np.array(ids), np.array(vecs, dtype=np.float32), texts)
    return features, by_topic


def model_of(features: Features, liked: list[int], disliked: list[int] = ()) -> Model:  # type: ignore[assignment]
    model = fit(features, {pid: 1.0 for pid in liked}, list(disliked), seed=5)
    assert model is not None
    return model


def graph_of(features: Features) -> Graph:
    return Graph.build(features.dense.shape[1], features.ids, np.asarray(features.dense))


def test_a_shortlist_of_the_whole_corpus_ranks_as_every_paper() -> None:
    features, topics = corpus()
    graph = graph_of(features)
    liked = topics["speech"][:4] + topics["graphs"][:1]
    model = model_of(features, liked, topics["vision"][:2])
    rows = shortlist(model, features, graph.search_many)
    assert rows is not None and rows.tolist() == list(range(len(features.ids)))
    skip = set(liked) | set(topics["vision"][:2])
    every = ranked(model, features, skip=skip, limit=40)
    short = ranked_shortlist(model, features, rows, skip=skip, limit=40)
    assert [pid for pid, _ in short] == [pid for pid, _ in every]
    assert np.allclose([s for _, s in short], [s for _, s in every], atol=1e-4)


def test_a_small_shortlist_holds_the_best_papers() -> None:
    """A shortlist of a third of the corpus holds the linear score's best papers, so the
    re-ranked feed is the one from every paper (re-ranking the best 20 in both)."""
    features, topics = corpus()
    graph = graph_of(features)
    liked = topics["graphs"][:3]
    model = model_of(features, liked)
    small = ShortlistParams(
        model_neighbours=60, liked_neighbours=5, liked_ef=16, terms=8, term_papers=30
    )
    rows = shortlist(model, features, graph.search_many, small)
    assert rows is not None and 60 <= len(rows) < len(features.ids) // 2
    params = replace(DEFAULT_PARAMS, rerank=20)
    best = np.argsort(-linear_scores(model, features))[:20]
    assert set(best.tolist()) <= set(rows.tolist())
    every = ranked(model, features, skip=set(liked), limit=10, params=params)
    short = ranked_shortlist(model, features, rows, skip=set(liked), limit=10, params=params)
    assert [pid for pid, _ in short] == [pid for pid, _ in every]
    assert {pid for pid, _ in short} <= set(topics["graphs"])


def test_without_a_graph_there_is_no_shortlist() -> None:
    features, topics = corpus(10)
    model = model_of(features, topics["vision"][:2])
    assert shortlist(model, features, lambda queries, count, ef: None) is None


def test_term_candidates_are_the_largest_partial_sums() -> None:
    features, topics = corpus()
    model = model_of(features, topics["vision"][:5])
    assert model.terms_coef is not None and features.terms is not None
    coef = model.terms_coef.astype(np.float64)
    heaviest = np.argsort(-coef)[:4]
    sums = np.asarray(features.terms[:, heaviest] @ coef[heaviest]).reshape(-1)
    expected = set(np.argsort(-sums, kind="stable")[:30].tolist())
    assert sums[sorted(expected)].min() > np.sort(sums)[-31]  # no tie at the cut
    got = term_candidates(model, features, 30, 4)
    assert set(got.tolist()) == expected
    assert set(features.ids[got].tolist()) <= set(topics["vision"])


def _saved(tmp_path: Path) -> tuple[Features, FeatureFiles, Features]:
    made, _ = corpus()
    files = FeatureFiles(tmp_path, "m", "db")
    files.save(made)
    mapped = files.load()
    assert mapped is not None and mapped.reader is not None
    return made, files, mapped


def _mapped_kb(path: Path) -> int:
    """KB of ``path`` mapped into this process now (its mappings' Rss, /proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head[0]):
            inside = len(head) > 5 and head[5] == str(path)
        elif inside and head and head[0] == "Rss:":
            total += int(head[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc")
def test_rows_come_from_the_files_and_stay_unmapped(tmp_path: Path) -> None:
    made, _files, mapped = _saved(tmp_path)
    assert made.terms is not None
    scattered = np.arange(len(made.ids))[::-2].copy()  # separate rows, descending
    for rows in (scattered, np.array([7, 3, 3, 150])):
        assert np.array_equal(mapped.dense_rows(rows), np.asarray(made.dense)[rows])
        got, want = mapped.term_rows(rows), made.terms[rows]
        assert np.array_equal(got.toarray(), want.toarray())
    dense_file = next(tmp_path.glob("*.dense.npy"))
    values_file = next(tmp_path.glob("*.data.npy"))
    assert _mapped_kb(dense_file) == 0 and _mapped_kb(values_file) == 0
    float(np.asarray(mapped.dense)[scattered].sum())  # read through the mapping instead
    assert _mapped_kb(dense_file) > 0


def test_ranges_read_adjacent_empty_and_repeated_ranges_as_slicing_does(tmp_path: Path) -> None:
    from paperfeed.index.recommend.rows import FileArray

    values = np.arange(60, dtype=np.float32).reshape(20, 3)
    np.save(tmp_path / "m.npy", values)
    reader = ArrayReader(FileArray.of_npy(tmp_path / "m.npy"))
    starts, stops = np.array([4, 6, 9, 9, 0, 19, 2]), np.array([6, 8, 9, 11, 1, 20, 3])
    want = np.concatenate([values[a:b] for a, b in zip(starts, stops, strict=True)])
    assert np.array_equal(reader.ranges(starts, stops), want)
    assert np.array_equal(reader.rows(np.array([3, 3, 0])), values[[3, 3, 0]])
    assert reader.ranges(np.array([5]), np.array([5])).shape == (0, 3)
    assert reader.rows(np.array([], dtype=np.int64)).shape == (0, 3)


def test_postings_are_saved_and_added_to_older_files(tmp_path: Path) -> None:
    made, files, mapped = _saved(tmp_path)
    assert made.terms is not None
    want = Postings.of_terms(made.terms).arrays()
    saved = mapped.term_postings()
    assert saved is not None
    for part, array in saved.arrays().items():
        assert np.array_equal(array, want[part])
    terms = np.array([2, 0, 5])
    rows, values, per_term = saved.of(terms)
    by_column = made.terms.tocsc()
    for t, start, count in zip(terms, np.cumsum(per_term) - per_term, per_term, strict=True):
        column = by_column[:, t]
        assert rows[start : start + count].tolist() == sorted(column.nonzero()[0].tolist())
        assert np.allclose(values[start : start + count], column.data[np.argsort(column.indices)])
    # Files written before postings existed: none read, none made in a request...
    manifest = json.loads(files.manifest.read_text())
    for part in ("pindptr", "prows", "pvalues"):
        del manifest["parts"][part]
        next(tmp_path.glob(f"*.{part}.npy")).unlink()
    files.manifest.write_text(json.dumps(manifest))
    older = files.load()
    assert older is not None and older.term_postings() is None
    # ...until `paperfeed index update` adds them.
    assert files.add_postings()
    upgraded = files.load()
    assert upgraded is not None and upgraded.term_postings() is not None
    assert np.array_equal(upgraded.term_postings().arrays()["rows"], want["rows"])  # type: ignore[union-attr]


def test_graph_candidates_hold_the_papers_added_since_the_graph() -> None:
    features, _ = corpus(20)
    dense = np.asarray(features.dense)
    index = VectorIndex.from_matrix("m", features.ids, dense, exact_max=0)
    assert index.kind == "hnsw"
    newcomer = np.array([99_999])
    index.add(newcomer, dense[:1])
    found = index.graph_candidates(dense[:2], 5, 16)
    assert found is not None and len(found) == 3
    assert all(len(part) == 5 for part in found[:2]) and found[2].tolist() == [99_999]
    exact = VectorIndex.from_matrix("m", features.ids, dense, exact_max=10_000)
    assert exact.graph_candidates(dense[:1], 5, 16) is None


@pytest.fixture
def big_hub(db_url: str, smtp: tuple[Any, int], tmp_path: Path) -> Iterator[TestClient]:
    """A hub whose corpus counts as large: shortlists from its HNSW graph (built at once)."""
    settings = community_settings(
        db_url,
        smtp[1],
        tmp_path,
        embedder="static",
        vector_backend="memory",
        vector_exact_max=0,
        recommend_shortlist_over=0,
    )
    app = create_app(settings)
    app.state.services.recommender.wait_seconds = None
    with TestClient(app) as client:
        for n, (topic, text) in enumerate(
            (topic, text) for topic, text in TOPICS.items() for _ in range(12)
        ):
            add_paper(
                client,
                f"2612.{n:05d}",
                title=f"{topic} study {n}",
                abstract=f"{text} variant {n} of the {topic} method",
                authors=(f"Ann {topic.title()}", f"Bo {n}"),
                categories=("cs.LG",),
                primary_category="cs.LG",
            )
        client.app.state.hub.semantic.embed_missing()  # type: ignore[attr-defined]
        yield client


def test_through_the_app_the_shortlist_feed_is_the_every_paper_feed(big_hub: TestClient) -> None:
    recommender = big_hub.app.state.services.recommender  # type: ignore[attr-defined]
    semantic = big_hub.app.state.hub.semantic  # type: ignore[attr-defined]
    semantic.unload()
    recommender.preparation._warming = None  # a worker starting now
    assert recommender.prepared(120)
    recommender.preparation._warming.join(120)
    assert semantic.answering() != "not loaded"  # loaded while preparing, before any search
    semantic.join_graph(120)  # its graph, built in the background on this new corpus
    assert semantic.answering() == "hnsw"
    member = make_member(big_hub, "ada")
    browser = TestClient(big_hub.app)
    log_in(browser, "ada@example.org")
    engine = big_hub.app.state.services.accounts.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        speech = [
            int(pid)
            for pid in conn.execute(
                papers.select()
                .with_only_columns(papers.c.id)
                .where(papers.c.title.like("speech%"))
                .order_by(papers.c.id)
            ).scalars()
        ]
    with writing(engine) as conn:
        for pid in speech[:4]:
            votes.set_vote(conn, paper_id=pid, user_id=member.id, on=True, now=NOW)

    def feed() -> list[tuple[str, str, str]]:
        answer = browser.get("/api/me/recommendations")
        assert answer.status_code == 200, answer.text
        return [(i["paper"]["id"], i["source"], i["paper"]["title"]) for i in answer.json()["data"]]

    shortlisted = feed()
    assert recommender.shortlisted == 1
    model = [title for _, source, title in shortlisted if source == "model"]
    assert len(model) >= 3 and all(title.startswith("speech") for title in model[:3])
    recommender.shortlist_over = 10**9  # the same member's feed from every paper
    recommender._ranked.clear()
    assert feed() == shortlisted and recommender.shortlisted == 1
