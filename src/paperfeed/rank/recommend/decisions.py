"""The decisions of a member's "For you" feed, pure: data and ``now`` in, a ranked list of
:class:`Recommendation` (each with its reason) out.

1. Positives (upvotes, saves, seeds, opened papers) are weighted by kind and by recency:
   ``kind weight x 0.5 ** (age in days / half-life)`` (:func:`positive_weights`).
2. Cold start: with fewer than :data:`COLD_START` positives, the papers that best match the
   member's topics (their own and their digest's saved searches) join them as positives.
3. The model (:mod:`.model`) scores every paper; the member's own positives and
   "not interested" papers never come back.
4. Exclusions are absolute: a paper matching an excluded keyword (title or abstract, whole
   words), category or author is dropped wherever it came from, model, trending or follows.
5. Papers of followed authors lead; then model papers, with trending papers mixed in at
   evenly spaced places for the member's exploration share.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from paperfeed.index.recommend.features import Features
from paperfeed.rank.recommend.explain import Reason, explain
from paperfeed.rank.recommend.model import DEFAULT_PARAMS, Model, ModelParams, scores, train
from paperfeed.store.recommendations import Exclusions, MemberSignals, Signal

#: Fewer positives than this: topics' best papers join them (cold start).
COLD_START = 3
KIND_WEIGHTS: Mapping[str, float] = {
    "upvote": 1.0,
    "save": 1.0,
    "seed": 1.0,
    "topic": 0.5,
    "view": 0.3,
}

Source = Literal["model", "trending", "followed"]


@dataclass(frozen=True)
class CandidatePaper:
    """What exclusions and follows look at."""

    paper_id: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    paper_id: int
    score: float
    source: Source
    reason: Reason


def positive_weights(
    positives: Sequence[Signal], now: datetime, half_life_days: float
) -> dict[int, float]:
    """One weight per paper: its strongest signal's kind weight, decayed by its age."""
    weights: dict[int, float] = {}
    for signal in positives:
        age_days = max((now - signal.at).total_seconds(), 0.0) / 86_400
        decay = 0.5 ** (age_days / half_life_days) if half_life_days > 0 else 1.0
        weight = KIND_WEIGHTS.get(signal.kind, 0.3) * decay
        weights[signal.paper_id] = max(weights.get(signal.paper_id, 0.0), weight)
    return weights


def with_topics(weights: dict[int, float], topic_papers: Sequence[int]) -> dict[int, float]:
    """Cold start: below :data:`COLD_START` positives, topic matches count as weak positives."""
    if len(weights) >= COLD_START:
        return weights
    out = dict(weights)
    for pid in topic_papers:
        out.setdefault(pid, KIND_WEIGHTS["topic"])
    return out


def fit(
    features: Features,
    weights: Mapping[int, float],
    negatives: Sequence[int],
    *,
    seed: int,
    params: ModelParams = DEFAULT_PARAMS,
) -> Model | None:
    """The member's model, or None when none of their positives has features."""
    ids = sorted(weights)
    rows = features.rows_of(ids)
    if len(rows) == 0:
        return None
    present = [pid for pid in ids if features.row_of(pid) is not None]
    w = np.array([weights[pid] for pid in present], dtype=np.float64)
    neg = features.rows_of(sorted(set(negatives) - set(weights)))
    return train(features, rows, w, neg, seed=seed, params=params)


def ranked(
    model: Model,
    features: Features,
    *,
    skip: set[int],
    limit: int,
    params: ModelParams = DEFAULT_PARAMS,
) -> list[tuple[int, float]]:
    """The model's best ``limit`` papers as (paper id, score), leaving out ``skip``."""
    values = scores(model, features, params)
    # Only the re-ranked candidates have a finite score: sort those, not the corpus (a
    # full sort of a million scores took 40-460 ms).
    finite = np.flatnonzero(np.isfinite(values))
    order = finite[np.argsort(-values[finite], kind="stable")]
    out: list[tuple[int, float]] = []
    for row in order:
        pid = int(features.ids[row])
        if pid not in skip:
            out.append((pid, float(values[row])))
            if len(out) == limit:
                break
    return out


def _norm_name(name: str) -> str:
    return " ".join(name.lower().replace(".", " ").split())


def excluded(paper: CandidatePaper, exclusions: Exclusions) -> bool:
    """Whether any exclusion filter matches the paper (they are absolute)."""
    if exclusions.empty:
        return False
    text = f"{paper.title}\n{paper.abstract}"
    for word in exclusions.keywords:
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE):
            return True
    cats = {c.lower() for c in paper.categories}
    if any(c.lower() in cats for c in exclusions.categories):
        return True
    names = {_norm_name(a) for a in paper.authors}
    return any(_norm_name(a) in names for a in exclusions.authors)


def mix(
    model_ids: Sequence[int], trending_ids: Sequence[int], exploration: int, limit: int
) -> list[tuple[int, Source]]:
    """Model papers with trending ones at evenly spaced places: ``exploration`` percent of
    the ``limit`` slots (rounded), never a paper twice. Without model papers, trending fills."""
    share = max(0, min(100, exploration)) / 100 if model_ids else 1.0
    slots = round(limit * share)
    models = iter(model_ids)
    trends = iter(trending_ids)
    used: set[int] = set()
    out: list[tuple[int, Source]] = []

    def take(source: Iterator[int]) -> int | None:
        for pid in source:
            if pid not in used:
                used.add(pid)
                return pid
        return None

    explored = 0
    while len(out) < limit:
        # A trending paper goes where the running share of trending falls behind.
        due = explored < slots and (explored + 1) * limit <= (len(out) + 1) * slots
        pid = take(trends) if due else None
        if pid is not None:
            explored += 1
            out.append((pid, "trending"))
            continue
        pid = take(models)
        if pid is None:
            pid = take(trends) if explored < slots else None
            if pid is None:
                break
            explored += 1
            out.append((pid, "trending"))
            continue
        out.append((pid, "model"))
    return out


def assemble(
    *,
    model: Model | None,
    features: Features,
    scored: Sequence[tuple[int, float]],
    candidates: Mapping[int, CandidatePaper],
    signals: MemberSignals,
    trending: Sequence[int],
    followed: Mapping[int, tuple[str, ...]],
    limit: int,
) -> list[Recommendation]:
    """The feed: followed authors' papers first, then model papers mixed with trending
    ones; exclusions, the member's own papers and "not interested" left out; each explained."""
    own = {s.paper_id for s in signals.positives} | {s.paper_id for s in signals.negatives}

    def allowed(pid: int) -> bool:
        paper = candidates.get(pid)
        return pid not in own and paper is not None and not excluded(paper, signals.exclusions)

    score_of = dict(scored)
    lead = [pid for pid in followed if allowed(pid)][:limit]
    taken = set(lead)
    model_ids = [pid for pid, _ in scored if pid not in taken and allowed(pid)]
    trend = [pid for pid in trending if pid not in taken and allowed(pid)]
    rest = mix(model_ids, trend, signals.settings.exploration, limit - len(lead))
    order: list[tuple[int, Source]] = [(pid, "followed") for pid in lead] + rest
    out = []
    for pid, source in order:
        reason = explain(model, features, pid, source, followed.get(pid, ()))
        out.append(Recommendation(pid, score_of.get(pid, 0.0), source, reason))
    return out
