"""For you over a large corpus: a shortlist of the papers a member's model can rank
highest, drawn without reading every paper's row, then scored exactly (pure).

Scoring every paper (:func:`~paperfeed.rank.recommend.model.scores`) reads every embedding
and every tf-idf row, at a million papers 2.2 GB a member, which then stays in the memory of
every worker. The model is linear, so its best papers are those that score high on its two
parts, and those can be found from indexes that are there anyway:

- the embedding part is an inner product with the model's weights over unit vectors, so its
  best papers are the nearest neighbours of the weights' direction: the vector index's HNSW
  graph (already mapped for search) answers that (:attr:`ShortlistParams.model_neighbours`);
- the nearest-liked-papers term favours papers near each liked paper: the graph's neighbours
  of the member's most weighted liked papers (:attr:`~ShortlistParams.liked_neighbours`);
- the tf-idf part is a sum over the paper's terms: the terms that weigh most in the model,
  summed over their postings (the tf-idf rows by term, :mod:`paperfeed.index.recommend.postings`),
  give the papers it scores highest (:attr:`~ShortlistParams.terms`,
  :attr:`~ShortlistParams.term_papers`);
- papers the graph does not hold yet (added since it was built) are all on the shortlist.

The shortlist (a few thousand papers) is then scored as the digest scores its candidates
(:func:`~paperfeed.rank.recommend.batch.ranked_block`): the full model's linear score, its
best ``rerank`` re-ranked with the nearest-liked-papers term. Its top 50 hold, of the top 50 that
scoring every paper gives, 99.4 % on average on the realistic 100 k corpus (200 synthetic
members; 98 % at the 10th percentile, 92 % at worst) and 99.1 % at 1 M (100 members; 98 %,
86 %), least with one liked paper (98.1 % on average at 1 M); shortlists of 3,600 papers
at the median, 4,200 at most (``bench/recommend_shortlist.py``, docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from paperfeed.index.recommend.features import Features
from paperfeed.rank.recommend.batch import ranked_block
from paperfeed.rank.recommend.model import DEFAULT_PARAMS, Model, ModelParams


@dataclass(frozen=True)
class ShortlistParams:
    """How many papers each source adds (measured with ``bench/recommend_shortlist.py``)."""

    #: Nearest papers to the direction of the model's embedding weights.
    model_neighbours: int = 2_000
    #: Nearest papers to each of the ``liked_max`` most weighted liked papers.
    liked_neighbours: int = 100
    liked_max: int = 32
    #: The graph's ef for the liked papers' neighbours (the model's query uses at least
    #: ``model_neighbours``): a few missed neighbours of a liked paper change little.
    liked_ef: int = 256
    #: Terms (the model's largest positive weights) whose postings are summed, and the
    #: papers with the largest sums that join the shortlist.
    terms: int = 50
    term_papers: int = 2_000


DEFAULT_SHORTLIST = ShortlistParams()

#: Nearest-neighbour candidates from the vector index: ``(queries, count, ef)`` to one
#: array of paper ids per query (and maybe more arrays of papers to add, such as those the
#: graph does not hold), or None when the index cannot propose any (then every paper is
#: scored).
Nearest = Callable[[np.ndarray, int, int], Sequence[np.ndarray] | None]


def term_candidates(model: Model, features: Features, count: int, terms: int) -> np.ndarray:
    """Rows of the ``count`` papers with the largest sum of the model's ``terms`` heaviest
    (positive) term weights times their tf-idf values: the best of the tf-idf part."""
    postings = features.term_postings()
    coef = model.terms_coef
    if postings is None or coef is None or count <= 0 or terms <= 0:
        return np.empty(0, dtype=np.int64)
    heaviest = np.argpartition(-coef, min(terms, len(coef)) - 1)[:terms] if len(coef) else coef
    heaviest = np.asarray(heaviest, dtype=np.int64)
    heaviest = heaviest[coef[heaviest] > 0]
    if len(heaviest) == 0:
        return np.empty(0, dtype=np.int64)
    rows, values, per_term = postings.of(np.sort(heaviest))
    weights = np.repeat(coef[np.sort(heaviest)].astype(np.float64), per_term)
    sums = np.bincount(rows, weights=values * weights, minlength=len(features.ids))
    held = np.flatnonzero(sums)
    if len(held) > count:
        held = held[np.argpartition(-sums[held], count - 1)[:count]]
    return np.sort(held).astype(np.int64)


def shortlist(
    model: Model,
    features: Features,
    nearest: Nearest,
    params: ShortlistParams = DEFAULT_SHORTLIST,
) -> np.ndarray | None:
    """Rows of the member's shortlist (ascending), or None when the vector index proposes
    nothing (no graph: score every paper instead)."""
    coef = np.asarray(model.dense_coef, dtype=np.float32)
    norm = float(np.linalg.norm(coef))
    queries = [coef / norm] if norm > 0 and np.isfinite(norm) else []
    if len(model.positive_rows):
        heaviest = np.argsort(-model.positive_weights, kind="stable")[: params.liked_max]
        liked = features.dense_rows(model.positive_rows[heaviest])
    else:
        liked = np.empty((0, features.dense.shape[1]), dtype=np.float32)
    found: list[np.ndarray] = []
    if queries:
        model_side = nearest(np.asarray(queries), params.model_neighbours, 0)
        if model_side is None:
            return None
        found += list(model_side)
    if len(liked):
        liked_side = nearest(liked, params.liked_neighbours, params.liked_ef)
        if liked_side is None:
            return None
        found += list(liked_side)
    if not found:
        return None
    rows = features.rows_of(np.unique(np.concatenate(found)))
    words = term_candidates(model, features, params.term_papers, params.terms)
    return np.unique(np.concatenate([rows, words]))


def ranked_shortlist(
    model: Model,
    features: Features,
    rows: np.ndarray,
    *,
    skip: set[int],
    limit: int,
    params: ModelParams = DEFAULT_PARAMS,
) -> list[tuple[int, float]]:
    """The model's best ``limit`` papers of the shortlist ``rows`` as (paper id, score),
    leaving out ``skip``: :func:`~paperfeed.rank.recommend.decisions.ranked` over the shortlist."""
    ids = [int(pid) for pid in features.ids[np.asarray(rows, dtype=np.int64)]]
    return ranked_block([model], features, ids, skips=[skip], limit=limit, params=params)[0]
