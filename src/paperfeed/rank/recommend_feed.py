"""``for_you()``: a member's "For you" feed, the one query behind the page, the API, the
private Atom feed and the digest section.

It reads the member's signals (store), the corpus features (index), trains the member's
model or takes it from the cache (keyed by the member's signal version, so any new
signal retrains it), and lets the pure decisions of :mod:`.recommend` assemble the feed.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine

from paperfeed.errors import InvalidQueryError
from paperfeed.index.lexical_tantivy import WordIndex
from paperfeed.index.recommend_features import FeatureCache, Features
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vector_table import recorded_model
from paperfeed.models import StoredPaper
from paperfeed.rank.lists import trending_list
from paperfeed.rank.recommend import (
    CandidatePaper,
    Recommendation,
    assemble,
    fit,
    positive_weights,
    ranked,
    with_topics,
)
from paperfeed.rank.recommend_follows import follow_since, followed_papers
from paperfeed.rank.recommend_model import Model
from paperfeed.rank.search import search
from paperfeed.rank.trending import TrendingRule
from paperfeed.store import follows as follows_store
from paperfeed.store import moderation
from paperfeed.store import papers as store
from paperfeed.store import recommendations as rec

#: Papers each topic contributes at cold start.
TOPIC_PAPERS = 10
#: Members whose trained model is kept per process.
CACHED_MODELS = 256
MAX_LIMIT = 100


@dataclass(frozen=True)
class ForYouItem:
    stored: StoredPaper
    recommendation: Recommendation
    #: The liked papers named in the reason, loaded (closest first).
    liked: tuple[StoredPaper, ...]


@dataclass(frozen=True)
class ForYou:
    items: list[ForYouItem]
    paused: bool
    #: True when the member has fewer positives than the model needs on their own.
    cold_start: bool
    positives: int


class Recommender:
    """The per-process state of recommendations: corpus features and trained models."""

    def __init__(
        self,
        engine: Engine,
        *,
        zone: ZoneInfo,
        rule: TrendingRule,
        half_life_days: float,
        semantic: SemanticIndex | None = None,
        words: WordIndex | None = None,
    ) -> None:
        self.engine = engine
        self.zone = zone
        self.rule = rule
        self.half_life_days = half_life_days
        self.semantic = semantic
        self.words = words
        self._caches: dict[str, FeatureCache] = {}
        self._models: OrderedDict[int, tuple[tuple[str, tuple[int, int]], Model | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        #: Trainings done (tests check that the cache holds until a signal changes).
        self.trainings = 0

    def features(self) -> Features | None:
        with self.engine.connect() as conn:
            recorded = recorded_model(conn)
        if recorded is None:
            return None
        with self._lock:
            cache = self._caches.setdefault(recorded[0], FeatureCache(self.engine, recorded[0]))
        return cache.features()

    def _topic_papers(self, topics: Sequence[str]) -> list[int]:
        found: list[int] = []
        for text in topics:
            try:
                result = search(
                    self.engine,
                    self.semantic,
                    text,
                    mode="hybrid" if self.semantic is not None else "lexical",
                    limit=TOPIC_PAPERS,
                    words=self.words,
                )
            except InvalidQueryError:
                continue
            found.extend(h.paper_id for h in result.hits)
        return found

    def model_for(
        self, signals: rec.MemberSignals, version: str, features: Features, now: datetime
    ) -> Model | None:
        key = (version, features.key)
        with self._lock:
            cached = self._models.get(signals.user_id)
            if cached is not None and cached[0] == key:
                self._models.move_to_end(signals.user_id)
                return cached[1]
        weights = positive_weights(signals.positives, now, self.half_life_days)
        weights = with_topics(
            weights, self._topic_papers(signals.topics) if len(weights) < 3 else []
        )
        negatives = [s.paper_id for s in signals.negatives]
        seed = zlib.crc32(f"{signals.user_id}:{version}".encode())
        model = fit(features, weights, negatives, seed=seed) if weights else None
        with self._lock:
            self.trainings += 1
            self._models[signals.user_id] = (key, model)
            while len(self._models) > CACHED_MODELS:
                self._models.popitem(last=False)
        return model

    def for_you(
        self,
        user_id: int,
        *,
        now: datetime,
        limit: int = 30,
    ) -> ForYou:
        limit = max(1, min(limit, MAX_LIMIT))
        with self.engine.connect() as conn:
            signals = rec.signals_of(conn, user_id)
            version = rec.signal_version(conn, user_id)
            follows = follows_store.follows_of(conn, user_id)
            found = follows_store.papers_by_names(
                conn, sorted({f.name for f in follows}), since=follow_since(now)
            )
        followed = followed_papers(follows, found, now)
        trending = trending_list(self.engine, now=now, zone=self.zone, rule=self.rule, limit=50)
        trending_ids = [s.id for s in trending.papers]
        features = self.features()
        model: Model | None = None
        scored: list[tuple[int, float]] = []
        paused = signals.settings.paused
        if features is not None and not paused:
            model = self.model_for(signals, version, features, now)
            if model is not None:
                skip = {s.paper_id for s in signals.positives} | {
                    s.paper_id for s in signals.negatives
                }
                scored = ranked(model, features, skip=skip, limit=limit * 4 + 50)
        if paused:
            followed = {}
        wanted = [pid for pid, _ in scored] + trending_ids + list(followed)
        with self.engine.connect() as conn:
            hidden = moderation.hidden_among(conn, wanted)
            loaded = store.read_papers(conn, [p for p in dict.fromkeys(wanted) if p not in hidden])
        candidates = {pid: _candidate(s) for pid, s in loaded.items()}
        if paused:
            # Paused: nothing personal; the trending list, still without excluded papers.
            signals = rec.MemberSignals(
                signals.user_id,
                (),
                signals.negatives,
                (),
                signals.exclusions,
                rec.RecSettings(paused=True, exploration=100),
            )
        recs = assemble(
            model=model,
            features=features if features is not None else _EMPTY,
            scored=scored,
            candidates=candidates,
            signals=signals,
            trending=trending_ids,
            followed=followed,
            limit=limit,
        )
        liked_ids = {pid for r in recs for pid in r.reason.liked}
        with self.engine.connect() as conn:
            liked = store.read_papers(conn, sorted(liked_ids))
        items = [
            ForYouItem(
                loaded[r.paper_id],
                r,
                tuple(liked[p] for p in r.reason.liked if p in liked),
            )
            for r in recs
        ]
        positives = len({s.paper_id for s in signals.positives})
        return ForYou(items, paused, positives < 3, positives)


def _candidate(stored: StoredPaper) -> CandidatePaper:
    p = stored.paper
    return CandidatePaper(stored.id, p.title, p.abstract, tuple(p.authors), tuple(p.categories))


_EMPTY = Features(np.empty(0, dtype=np.int64), np.empty((0, 1), dtype=np.float32), None)
