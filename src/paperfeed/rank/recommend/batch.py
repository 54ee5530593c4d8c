"""Scoring a block of members' models over one set of candidate papers at once (pure).

A digest run ranks the same candidates, the papers new in the edition, for thousands of
members. Scoring each member alone reads the whole feature matrix once per member (at
1 M papers, half a second each); here the linear part of a block of models is one matrix
product over the candidates' rows (``C x d`` times ``d x B``, plus the tf-idf rows times
the block's term weights), and the nearest-liked-papers term one product against the
union of the block's liked papers.

The formula is :func:`~paperfeed.rank.recommend.model.scores`'s, applied to the
candidates as the corpus: the best ``params.rerank`` candidates by the linear score are
re-ranked with the z-scores of the linear score and of the similarity to the member's
nearest liked papers (less that to the nearest "not interested" one); the others get
``-inf``. Liked and "not interested" papers are rows of the full features (the member's
model was trained on them) and need not be candidates. With every paper a candidate the
result is ``scores(model, features)`` (up to float rounding: one matrix product instead
of a matrix-vector product per member); tests check it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paperfeed.index.recommend.features import Features
from paperfeed.rank.recommend.model import DEFAULT_PARAMS, Model, ModelParams


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    out: np.ndarray = (values - values.mean()) / (spread if spread > 0 else 1.0)
    return out


def block_linear(
    models: Sequence[Model],
    features: Features,
    rows: np.ndarray,
    dense: np.ndarray | None = None,
) -> np.ndarray:
    """Each model's decision value for each candidate row: ``(len(rows), len(models))``
    (``dense``: the rows' embeddings, when the caller has read them)."""
    if dense is None:
        dense = features.dense_rows(rows)
    coef = np.stack([m.dense_coef for m in models], axis=1).astype(dense.dtype, copy=False)
    intercepts = np.array([m.intercept for m in models], dtype=dense.dtype)
    linear = dense @ coef + intercepts
    with_terms = [j for j, m in enumerate(models) if m.terms_coef is not None]
    if with_terms and features.terms is not None:
        words = features.term_rows(rows)
        weights = np.stack([models[j].terms_coef for j in with_terms], axis=1)  # type: ignore[misc]
        linear[:, with_terms] += np.asarray(words @ weights.astype(words.dtype, copy=False))
    out: np.ndarray = np.asarray(linear, dtype=np.float64)
    return out


def _similarities(
    features: Features,
    rows: np.ndarray,
    others: np.ndarray,
    terms_weight: float,
    dense: np.ndarray,
) -> np.ndarray:
    """Cosine of each candidate row (embeddings ``dense``) to each of ``others`` (rows of
    the full features)."""
    sims = dense @ features.dense_rows(others).T
    if terms_weight and features.terms is not None:
        words = features.term_rows(rows) @ features.term_rows(others).T
        sims = sims + terms_weight * np.asarray(words.todense())
    out: np.ndarray = np.asarray(sims)
    return out


def _nearest(sims: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row's ``k`` largest values (as ``neighbour_similarity``)."""
    m = min(k, sims.shape[1])
    nearest = np.partition(sims, sims.shape[1] - m, axis=1)[:, -m:]
    return np.asarray(nearest.mean(axis=1), dtype=np.float64)


def block_scores(
    models: Sequence[Model],
    features: Features,
    rows: np.ndarray,
    params: ModelParams = DEFAULT_PARAMS,
) -> np.ndarray:
    """Final scores of each candidate row for each model, ``(len(rows), len(models))``:
    higher is better, ``-inf`` for candidates outside a model's re-ranked best."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.full((len(rows), len(models)), -np.inf)
    if len(rows) == 0 or not models:
        return out
    # Each candidate's embedding is read once (from the file: scattered rows, see
    # Features.dense_rows) for both products.
    dense = features.dense_rows(rows)
    linear = block_linear(models, features, rows, dense)
    liked = np.unique(np.concatenate([m.positive_rows for m in models]))
    disliked = np.unique(np.concatenate([m.negative_rows for m in models]))
    liked_sims = _similarities(features, rows, liked, params.knn_terms, dense)
    disliked_sims = (
        _similarities(features, rows, disliked, params.knn_terms, dense) if len(disliked) else None
    )
    count = min(params.rerank, len(rows))
    for j, model in enumerate(models):
        column = linear[:, j]
        every = count == len(rows)
        top = np.arange(count) if every else np.argpartition(-column, count - 1)[:count]
        own = liked_sims[np.ix_(top, np.searchsorted(liked, model.positive_rows))]
        boost = max(1.0, params.knn_boost_below / max(len(model.positive_rows), 1))
        values = _z(column[top]) + params.knn_weight * boost * _z(_nearest(own, params.knn_k))
        if len(model.negative_rows) and disliked_sims is not None:
            near = disliked_sims[np.ix_(top, np.searchsorted(disliked, model.negative_rows))]
            values -= params.knn_weight * _z(_nearest(near, 1))
        out[top, j] = values
    return out


def ranked_block(
    models: Sequence[Model],
    features: Features,
    paper_ids: Sequence[int],
    *,
    skips: Sequence[set[int]],
    limit: int,
    params: ModelParams = DEFAULT_PARAMS,
) -> list[list[tuple[int, float]]]:
    """For each model, its best ``limit`` candidates as (paper id, score), leaving out
    its ``skips`` (as :func:`~paperfeed.rank.recommend.decisions.ranked` does over the corpus).
    Candidates without features are left out."""
    rows = features.rows_of(sorted(set(paper_ids)))
    values = block_scores(models, features, rows, params)
    ids = features.ids[rows]
    out: list[list[tuple[int, float]]] = []
    for j, skip in enumerate(skips):
        column = values[:, j]
        found: list[tuple[int, float]] = []
        for at in np.argsort(-column, kind="stable"):
            if not np.isfinite(column[at]):
                break
            pid = int(ids[at])
            if pid not in skip:
                found.append((pid, float(column[at])))
                if len(found) == limit:
                    break
        out.append(found)
    return out
