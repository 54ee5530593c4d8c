"""Why a paper is in a member's feed: the liked papers it is closest to (by embedding) and
the words that weigh most for it in the member's model (each term's weight in the model
times its tf-idf value in the paper: arxiv-sanity-lite's SVM words, per paper). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from paperfeed.index.recommend.features import Features
from paperfeed.rank.recommend.model import Model

ReasonKind = Literal["model", "trending", "followed"]
#: Liked papers and terms named per recommendation.
LIKED_SHOWN = 2
TERMS_SHOWN = 4


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    #: The member's papers this one is closest to, closest first.
    liked: tuple[int, ...] = ()
    #: The words that weigh most for it in the member's model.
    terms: tuple[str, ...] = ()
    #: For ``followed``: the followed names among its authors.
    authors: tuple[str, ...] = ()


def closest_liked(
    model: Model, features: Features, row: int, count: int = LIKED_SHOWN
) -> tuple[int, ...]:
    sims = features.dense_rows(model.positive_rows) @ features.dense_rows(np.array([row]))[0]
    order = np.argsort(-sims, kind="stable")[:count]
    return tuple(int(features.ids[model.positive_rows[i]]) for i in order)


def weightiest_terms(
    model: Model, features: Features, row: int, count: int = TERMS_SHOWN
) -> tuple[str, ...]:
    if model.terms_coef is None or features.terms is None:
        return ()
    paper = features.term_rows(np.array([row]))
    cols = paper.indices
    if len(cols) == 0:
        return ()
    weight = model.terms_coef[cols] * paper.data
    order = np.argsort(-weight, kind="stable")
    return tuple(features.vocabulary[cols[i]] for i in order[:count] if weight[i] > 0)


def explain(
    model: Model | None,
    features: Features,
    paper_id: int,
    source: ReasonKind,
    followed_authors: tuple[str, ...] = (),
) -> Reason:
    if source == "followed":
        return Reason("followed", authors=followed_authors)
    if source == "trending" or model is None:
        return Reason("trending")
    row = features.row_of(paper_id)
    if row is None:
        return Reason("model")
    return Reason(
        "model",
        liked=closest_liked(model, features, row),
        terms=weightiest_terms(model, features, row),
    )
