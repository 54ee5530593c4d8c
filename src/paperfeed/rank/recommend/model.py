"""A member's recommendation model: a logistic regression over the paper embeddings and a
tf-idf view of the papers' words, trained on the member's positives against their
"not interested" papers and a sample of the rest; pure (data in, scores out).

Why both features: on the seed pages (topic members) and the CiteULike libraries, the
embeddings alone lost to arxiv-sanity-lite's tf-idf SVM; the two together lead it on
CiteULike and with 1 or 3 liked papers, and trail it with 10 (``bench/recommend_quality.py``,
docs/benchmarks.md). The candidates the linear score ranks highest are then re-ranked with
the embeddings' similarity to the member's nearest liked papers (a k-nearest-neighbour
term), which is also what the explanations show. The knobs (:class:`ModelParams`) were
checked on the bench's ``--validation`` splits, which never touch the papers it evaluates:
none of the alternatives tried there did measurably better (docs/benchmarks.md).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.index.recommend.features import Features

if TYPE_CHECKING:  # scikit-learn and scipy take seconds to import: only when training
    from scipy import sparse


@dataclass(frozen=True)
class ModelParams:
    """The model's knobs; defaults are the ones measured best in the quality bench."""

    #: Weight of the (l2-normalised) tf-idf row beside the (unit) embedding.
    terms_scale: float = 2.0
    #: Inverse regularisation of the logistic regression.
    c: float = 1.0
    #: Sampled negatives: max(negatives_min, negatives_per_positive * positives), capped.
    negatives_min: int = 2_000
    negatives_per_positive: int = 2
    negatives_max: int = 2_000
    #: Weight of a "not interested" paper relative to a sampled negative.
    not_interested_weight: float = 5.0
    #: Weight of the nearest-liked-papers term in the re-ranking (z-scores).
    knn_weight: float = 0.5
    knn_k: int = 3
    #: Weight of the words' cosine beside the embeddings' in the neighbour similarity: 0,
    #: the embeddings' alone, scored better on the quality bench's validation splits
    #: (``--validation``) than 1, and skips a sparse product over the candidates.
    knn_terms: float = 0.0
    #: With fewer positives than this, the neighbour term weighs more (x this / positives):
    #: a model of one or two papers is mostly their neighbourhood.
    knn_boost_below: int = 3
    #: Candidates re-ranked with the nearest-liked-papers term.
    rerank: int = 2_000


DEFAULT_PARAMS = ModelParams()

#: From this many papers the two products of :func:`linear_scores` run side by side.
_PARALLEL_ROWS = 50_000


@dataclass(frozen=True)
class Model:
    dense_coef: np.ndarray  # (d,)
    terms_coef: np.ndarray | None  # (v,)
    intercept: float
    #: Rows and weights of the positives (for the neighbour term and explanations).
    positive_rows: np.ndarray
    positive_weights: np.ndarray
    #: Rows of the "not interested" papers (their neighbours are pushed down).
    negative_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def _stack(features: Features, rows: np.ndarray, scale: float) -> sparse.csr_matrix:
    """The training rows as one float64 CSR matrix: each row's embedding, then its tf-idf
    row times ``scale`` (columns shifted past the embedding's). Built directly: scipy's
    ``hstack`` of a dense block and a float32 matrix, then liblinear's float64 copy, took
    ~50 ms of a 500-positive fit at 100 k papers."""
    from scipy import sparse

    block = features.dense_rows(rows).astype(np.float64)
    m, d = block.shape
    if features.terms is None:
        return sparse.csr_matrix(block)
    words = features.term_rows(rows)
    per_row = d + np.diff(words.indptr)
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    dense_at = (indptr[:-1, None] + np.arange(d)).ravel()
    is_word = np.ones(int(indptr[-1]), dtype=bool)
    is_word[dense_at] = False
    data = np.empty(int(indptr[-1]), dtype=np.float64)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    data[dense_at] = block.ravel()
    indices[dense_at] = np.tile(np.arange(d, dtype=np.int32), m)
    data[is_word] = words.data * scale
    indices[is_word] = words.indices + d
    out = sparse.csr_matrix((data, indices, indptr), shape=(m, d + words.shape[1]))
    # Sorted, without duplicates when the tf-idf rows are: saying so spares scikit-learn's
    # input checks a sort of every row (~25 ms here).
    out.has_canonical_format = bool(words.has_canonical_format)
    return out


def sample_negatives(
    n: int, exclude: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` distinct rows of ``range(n)`` outside ``exclude`` (fewer if there are not)."""
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[exclude] = False
    free = np.flatnonzero(mask)
    if len(free) <= count:
        return free.astype(np.int64)
    if n > 20 * count:  # large corpus: draw and reject instead of permuting everything
        picked: set[int] = set()
        while len(picked) < count:
            for row in rng.integers(0, n, size=2 * (count - len(picked))):
                if mask[row]:
                    picked.add(int(row))
                    if len(picked) == count:
                        break
        return np.array(sorted(picked), dtype=np.int64)
    return np.sort(rng.choice(free, size=count, replace=False)).astype(np.int64)


def train(
    features: Features,
    positive_rows: np.ndarray,
    positive_weights: np.ndarray,
    negative_rows: np.ndarray,
    *,
    seed: int,
    params: ModelParams = DEFAULT_PARAMS,
) -> Model:
    """Fit the member's model. Positives must be non-empty; weights are per positive."""
    n = len(features.ids)
    rng = np.random.default_rng(seed)
    wanted = max(params.negatives_min, params.negatives_per_positive * len(positive_rows))
    sampled = sample_negatives(
        n,
        np.concatenate([positive_rows, negative_rows]).astype(np.int64),
        min(wanted, params.negatives_max),
        rng,
    )
    if len(negative_rows) + len(sampled) == 0:
        # Every paper of the hub is a positive: nothing to tell them from, so rank by
        # likeness to what the member chose (a classifier needs two classes).
        return _profile_model(features, positive_rows, positive_weights)
    rows = np.concatenate([positive_rows, negative_rows, sampled]).astype(np.int64)
    y = np.concatenate([np.ones(len(positive_rows)), np.zeros(len(negative_rows) + len(sampled))])
    # Balanced classes: the positives together weigh as much as the negatives together.
    neg_w = np.concatenate(
        [np.full(len(negative_rows), params.not_interested_weight), np.ones(len(sampled))]
    )
    pos_w = positive_weights / max(float(positive_weights.sum()), 1e-9) * float(neg_w.sum())
    weights = np.concatenate([pos_w, neg_w])
    # The dual solver: a member has far fewer examples than features (20 k terms), and it
    # trains 500 positives in ~30 ms where lbfgs took seconds (bench/recommend_quality.py).
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=params.c, solver="liblinear", dual=True, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(_stack(features, rows, params.terms_scale), y, sample_weight=weights)
    coef = clf.coef_[0]
    d = features.dense.shape[1]
    terms_coef = None
    if features.terms is not None:
        # In the terms' own type: scoring multiplies every row by it.
        terms_coef = (coef[d:] * params.terms_scale).astype(features.terms.dtype)
    return Model(
        dense_coef=coef[:d].astype(np.float32),
        terms_coef=terms_coef,
        intercept=float(clf.intercept_[0]),
        positive_rows=positive_rows.astype(np.int64),
        positive_weights=positive_weights.astype(np.float64),
        negative_rows=negative_rows.astype(np.int64),
    )


def _profile_model(
    features: Features, positive_rows: np.ndarray, positive_weights: np.ndarray
) -> Model:
    """The weighted mean of the positives' embeddings as the model: no negatives to fit."""
    weights = positive_weights / max(float(positive_weights.sum()), 1e-9)
    dense = np.asarray(features.dense_rows(positive_rows), dtype=np.float32)
    terms_coef = None
    if features.terms is not None:
        terms_coef = np.zeros(features.terms.shape[1], dtype=features.terms.dtype)
    return Model(
        dense_coef=(weights.astype(np.float32) @ dense).astype(np.float32),
        terms_coef=terms_coef,
        intercept=0.0,
        positive_rows=positive_rows.astype(np.int64),
        positive_weights=positive_weights.astype(np.float64),
        negative_rows=np.empty(0, dtype=np.int64),
    )


def linear_scores(model: Model, features: Features) -> np.ndarray:
    """The model's decision value for every row.

    The two products read every row of the corpus (at a million papers 1.5 GB of
    embeddings and 0.6 GB of tf-idf rows, each ~0.2 s on one core, bound by memory
    bandwidth), and BLAS and scipy's sparse product both release the interpreter lock:
    the tf-idf product runs in a second thread beside the embeddings' one."""
    terms, coef = features.terms, model.terms_coef
    words: list[np.ndarray] = []
    helper: threading.Thread | None = None
    if terms is not None and coef is not None:
        if len(features.ids) >= _PARALLEL_ROWS:
            helper = threading.Thread(target=lambda: words.append(terms @ coef), daemon=True)
            helper.start()
        else:
            words.append(terms @ coef)
    scores = features.dense @ model.dense_coef
    if helper is not None:
        helper.join()
    out = np.asarray(scores, dtype=np.float64)
    out += model.intercept
    if words:
        out += words[0]
    return out


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    out: np.ndarray = (values - values.mean()) / (spread if spread > 0 else 1.0)
    return out


def neighbour_similarity(
    features: Features,
    rows: np.ndarray,
    positive_rows: np.ndarray,
    k: int,
    terms_weight: float = 0.0,
) -> np.ndarray:
    """Mean similarity of each row to its ``k`` nearest positives: the embeddings' cosine
    plus ``terms_weight`` times the tf-idf rows' cosine."""
    sims = features.dense_rows(rows) @ features.dense_rows(positive_rows).T
    if terms_weight and features.terms is not None:
        words = features.term_rows(rows) @ features.term_rows(positive_rows).T
        sims = sims + terms_weight * np.asarray(words.todense())
    m = min(k, sims.shape[1])
    nearest = np.partition(sims, sims.shape[1] - m, axis=1)[:, -m:]
    return np.asarray(nearest.mean(axis=1), dtype=np.float64)


def scores(model: Model, features: Features, params: ModelParams = DEFAULT_PARAMS) -> np.ndarray:
    """Final scores of every row: the linear score, and for the best ``rerank`` candidates
    the sum of z-scores of the linear score and the nearest-liked-papers term, less the
    nearest-"not interested" term (others get -inf). Higher is better."""
    linear = linear_scores(model, features)
    out = np.full(len(linear), -np.inf)
    count = min(params.rerank, len(linear))
    top = np.argpartition(-linear, count - 1)[:count] if count < len(linear) else np.arange(count)
    knn = neighbour_similarity(features, top, model.positive_rows, params.knn_k, params.knn_terms)
    boost = max(1.0, params.knn_boost_below / max(len(model.positive_rows), 1))
    out[top] = _z(linear[top]) + params.knn_weight * boost * _z(knn)
    if len(model.negative_rows):
        # "Not interested" pushes its neighbourhood down as liked papers pull theirs up.
        near = neighbour_similarity(features, top, model.negative_rows, 1, params.knn_terms)
        out[top] -= params.knn_weight * _z(near)
    return out
