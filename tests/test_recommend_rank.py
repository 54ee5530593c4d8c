"""The pure decisions of the "For you" feed: weights, the model, exclusions, mixing,
explanations (no database: features are made from synthetic topics)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from paperfeed.index.recommend.features import Features, build_features
from paperfeed.rank.recommend.decisions import (
    CandidatePaper,
    Recommendation,
    assemble,
    excluded,
    fit,
    mix,
    positive_weights,
    ranked,
    with_topics,
)
from paperfeed.rank.recommend.model import DEFAULT_PARAMS, linear_scores, neighbour_similarity
from paperfeed.store.recommendations import Exclusions, MemberSignals, RecSettings, Signal

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
TOPICS = {
    "vision": "image segmentation convolution pixels detection camera",
    "speech": "audio speech recognition acoustic spoken waveform",
    "graphs": "graph neural message passing nodes edges molecules",
}


def corpus(per_topic: int = 30) -> tuple[Features, dict[int, CandidatePaper], dict[str, list[int]]]:
    rng = np.random.default_rng(0)
    centres = {t: rng.standard_normal(32) for t in TOPICS}
    ids, vecs, texts, papers = [], [], [], {}
    by_topic: dict[str, list[int]] = {t: [] for t in TOPICS}
    pid = 100
    for topic, words in TOPICS.items():
        vocab = words.split()
        for i in range(per_topic):
            pid += 1
            picked = rng.choice(vocab, size=4, replace=False)
            title = f"{topic} study {i} " + " ".join(picked)
            abstract = " ".join(rng.choice(vocab, size=12))
            ids.append(pid)
            vecs.append(centres[topic] + 0.6 * rng.standard_normal(32))
            texts.append(f"{title}. {abstract}")
            papers[pid] = CandidatePaper(
                pid, title, abstract, (f"Author {topic} {i % 3}",), (f"cs.{topic[:2].upper()}",)
            )
            by_topic[topic].append(pid)
    return build_features(np.array(ids), np.array(vecs, dtype=np.float32), texts), papers, by_topic


def signals(pos: list[int], neg: list[int] = (), **settings: object) -> MemberSignals:  # type: ignore[assignment]
    return MemberSignals(
        user_id=1,
        positives=tuple(Signal(p, "upvote", NOW) for p in pos),
        negatives=tuple(Signal(p, "not_interested", NOW) for p in neg),
        topics=(),
        exclusions=settings.pop("exclusions", Exclusions()),  # type: ignore[arg-type]
        settings=RecSettings(**settings),  # type: ignore[arg-type]
    )


def feed(
    features: Features,
    papers: dict[int, CandidatePaper],
    sig: MemberSignals,
    trending: Sequence[int] = (),
    followed: dict[int, tuple[str, ...]] | None = None,
    limit: int = 20,
) -> list[Recommendation]:
    weights = positive_weights(sig.positives, NOW, 180)
    model = fit(features, weights, [s.paper_id for s in sig.negatives], seed=1)
    assert model is not None
    skip = set(weights) | {s.paper_id for s in sig.negatives}
    scored = ranked(model, features, skip=skip, limit=200)
    return assemble(
        model=model,
        features=features,
        scored=scored,
        candidates=papers,
        signals=sig,
        trending=trending,
        followed=followed or {},
        limit=limit,
    )


def test_weights_decay_with_age_and_keep_the_strongest_signal() -> None:
    old = Signal(1, "upvote", NOW - timedelta(days=180))
    view = Signal(2, "view", NOW)
    both = [Signal(3, "view", NOW), Signal(3, "save", NOW)]
    got = positive_weights([old, view, *both], NOW, 180)
    assert abs(got[1] - 0.5) < 1e-9
    assert abs(got[2] - 0.3) < 1e-9
    assert got[3] == 1.0
    assert positive_weights([old], NOW, 0) == {1: 1.0}


def test_cold_start_adds_topic_papers_only_below_three_positives() -> None:
    assert with_topics({1: 1.0}, [5, 6]) == {1: 1.0, 5: 0.5, 6: 0.5}
    three = {1: 1.0, 2: 1.0, 3: 1.0}
    assert with_topics(three, [5]) == three


def test_the_model_recommends_the_liked_topic_and_explains_with_real_liked_papers() -> None:
    features, papers, by_topic = corpus()
    liked = by_topic["speech"][:5]
    got = feed(features, papers, signals(liked), limit=10)
    assert len(got) == 10
    assert all(r.paper_id in by_topic["speech"] for r in got)
    assert not {r.paper_id for r in got} & set(liked)
    for rec in got:
        assert rec.reason.kind == "model"
        assert rec.reason.liked and set(rec.reason.liked) <= set(liked)
        assert rec.reason.terms
        assert all(
            w in (papers[rec.paper_id].title + " " + papers[rec.paper_id].abstract).lower()
            for t in rec.reason.terms
            for w in t.split()
        )


def test_not_interested_removes_the_paper_and_pushes_its_neighbours_down() -> None:
    features, papers, by_topic = corpus()
    liked = by_topic["speech"][:3] + by_topic["graphs"][:3]
    before = feed(features, papers, signals(liked), limit=40)
    order = [r.paper_id for r in before]
    target = next(p for p in order if p in by_topic["graphs"])
    neighbours = [p for p in by_topic["graphs"] if p in order and p != target]
    after = [r.paper_id for r in feed(features, papers, signals(liked, [target]), limit=40)]
    assert target not in after

    def mean_rank(ids: list[int], of: list[int]) -> float:
        return float(np.mean([of.index(p) if p in of else len(of) for p in ids]))

    assert mean_rank(neighbours, after) > mean_rank(neighbours, order)


def test_exclusions_are_absolute_whatever_the_source() -> None:
    features, papers, by_topic = corpus()
    liked = by_topic["vision"][:5]
    trending = by_topic["speech"][:5]
    followed = {p: ("Author graphs 0",) for p in by_topic["graphs"][:2]}
    rules = Exclusions(
        keywords=("segmentation",), categories=("cs.SP",), authors=("author graphs 0",)
    )
    got = feed(
        features, papers, signals(liked, exploration=50, exclusions=rules), trending, followed
    )
    assert got
    for rec in got:
        assert not excluded(papers[rec.paper_id], rules)
        assert (
            "segmentation"
            not in (papers[rec.paper_id].title + papers[rec.paper_id].abstract).lower()
        )
    assert not any(r.source == "trending" for r in got)  # every trending paper is cs.SP
    assert [r.paper_id for r in got if r.source == "followed"] == [by_topic["graphs"][1]]


def test_followed_lead_and_exploration_mixes_trending_at_its_share() -> None:
    features, papers, by_topic = corpus()
    liked = by_topic["vision"][:5]
    trending = by_topic["speech"][:10]
    got = feed(
        features,
        papers,
        signals(liked, exploration=25),
        trending,
        {by_topic["graphs"][0]: ("Author graphs 0",)},
        limit=9,
    )
    assert got[0].source == "followed" and got[0].reason.authors == ("Author graphs 0",)
    rest = got[1:]
    assert sum(r.source == "trending" for r in rest) == 2
    assert rest[0].source == "model"
    assert {r.reason.kind for r in rest if r.source == "trending"} == {"trending"}


def test_mix_fills_with_trending_without_model_papers_and_never_repeats() -> None:
    assert mix([], [7, 8], 10, 5) == [(7, "trending"), (8, "trending")]
    assert mix([1, 2, 3, 4], [9], 0, 3) == [(1, "model"), (2, "model"), (3, "model")]
    got = mix([1, 2, 3], [2, 9], 50, 4)
    assert [p for p, _ in got].count(2) == 1
    assert len(got) == 4


def test_followed_papers_need_the_name_the_pins_and_the_window() -> None:
    from paperfeed.rank.recommend.follows import followed_papers
    from paperfeed.store.follows import AuthoredPaper, Follow

    def paper(
        pid: int, days: float, authors: tuple[str, ...], cats: tuple[str, ...]
    ) -> AuthoredPaper:
        return AuthoredPaper(pid, NOW - timedelta(days=days), authors, cats)

    found = [
        paper(1, 1, ("Lee Wang", "Bo"), ("cs.SP",)),
        paper(2, 2, ("Lee Wang", "Cy"), ("cs.GR",)),
        paper(3, 20, ("Lee Wang",), ("cs.GR",)),
        paper(4, 0.5, ("Lee Wangs",), ("cs.GR",)),
    ]
    assert followed_papers([Follow(1, "Lee Wang")], found, NOW) == {
        1: ("Lee Wang",),
        2: ("Lee Wang",),
    }
    assert list(followed_papers([Follow(1, "Lee Wang", category="cs.GR")], found, NOW)) == [2]
    assert list(followed_papers([Follow(1, "Lee Wang", co_author="Bo")], found, NOW)) == [1]


def test_terms_are_float32_and_the_model_scores_in_their_type() -> None:
    features, _, by_topic = corpus()
    assert features.terms is not None and features.terms.dtype == np.float32
    model = fit(features, dict.fromkeys(by_topic["graphs"][:4], 1.0), (), seed=3)
    assert model is not None and model.terms_coef is not None
    assert model.terms_coef.dtype == np.float32
    exact = (
        features.dense.astype(np.float64) @ model.dense_coef.astype(np.float64)
        + features.terms.astype(np.float64) @ model.terms_coef.astype(np.float64)
        + model.intercept
    )
    assert np.allclose(linear_scores(model, features), exact, atol=1e-4)


def test_the_neighbour_term_follows_the_embeddings_not_shared_words() -> None:
    # A liked paper, a paper with its very words but an unrelated embedding, and a paper
    # with its embedding's direction but other words (and filler so idf is meaningful).
    e1, e2 = np.eye(8, dtype=np.float32)[0], np.eye(8, dtype=np.float32)[1]
    rng = np.random.default_rng(5)
    filler = [rng.standard_normal(8).astype(np.float32) for _ in range(6)]
    texts = [
        "alpha beta gamma kernel",
        "alpha beta gamma kernel",
        "delta epsilon zeta lattice",
        *[f"filler {i} omega" for i in range(6)],
    ]
    dense = np.array([e1, e2, e1 + 0.05 * e2, *filler])
    features = build_features(np.arange(100, 109), dense, texts)
    liked = np.array([0])
    sims = neighbour_similarity(features, np.array([1, 2]), liked, DEFAULT_PARAMS.knn_k)
    default = neighbour_similarity(
        features, np.array([1, 2]), liked, DEFAULT_PARAMS.knn_k, DEFAULT_PARAMS.knn_terms
    )
    assert np.allclose(default, sims)
    assert default[1] > default[0]  # the embedding's neighbour, not the word twin
    words = neighbour_similarity(features, np.array([1, 2]), liked, 1, terms_weight=2.0)
    assert words[0] > words[1]  # with the words weighed in, the twin would lead


def test_the_training_matrix_is_each_embedding_then_its_scaled_words() -> None:
    from scipy import sparse

    from paperfeed.rank.recommend.model import _stack

    features, _, _ = corpus()
    assert features.terms is not None and features.terms.has_canonical_format
    rows = np.array([5, 0, 61, 33])
    got = _stack(features, rows, 2.0)
    want = sparse.hstack(
        [sparse.csr_matrix(features.dense[rows]), features.terms[rows] * 2.0], format="csr"
    )
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.allclose(got.toarray(), want.toarray())
    # It says it is canonical (so scikit-learn skips sorting it): each row's columns must
    # then truly rise.
    assert got.has_canonical_format
    for i in range(len(rows)):
        assert np.all(np.diff(got.indices[got.indptr[i] : got.indptr[i + 1]]) > 0)


def test_a_member_who_liked_every_paper_still_gets_a_model() -> None:
    # Every paper is a positive: no negative to sample, and a classifier needs two classes.
    features, _, by_topic = corpus(per_topic=4)
    liked = {int(pid): 1.0 for pid in features.ids}
    liked.update(dict.fromkeys(by_topic["speech"], 3.0))
    model = fit(features, liked, (), seed=1)
    assert model is not None
    scores = linear_scores(model, features)
    top = {int(features.ids[i]) for i in np.argsort(-scores)[:4]}
    assert top == set(by_topic["speech"])  # the most liked topic ranks first
