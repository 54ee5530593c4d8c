"""``for_you()``: a member's "For you" feed, the one query behind the page, the API, the
private Atom feed and the digest section.

It reads the member's signals (store), the corpus features (index), trains the member's
model or takes it from the cache (keyed by the member's signal version, so any new
signal retrains it), and lets the pure decisions of :mod:`.decisions` assemble the feed.

Nothing slow happens on a request: :meth:`Recommender.warm` (called when the app starts)
imports the model's libraries and maps (or makes) the corpus features in the background
(:mod:`.preparation`), and a request waits for them at most
:attr:`Recommender.wait_seconds`; until they are there the feed is the trending list,
marked ``preparing``. A member's ranked papers are kept with their model, so a later
answer with the same signals scores nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine

from paperfeed.errors import ConfigError, InvalidQueryError
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.recommend.cache import FeatureCache
from paperfeed.index.recommend.features import Features
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vectors.in_memory import VectorIndex
from paperfeed.models import StoredPaper
from paperfeed.rank.lists import trending_list
from paperfeed.rank.recommend.decisions import (
    CandidatePaper,
    Recommendation,
    assemble,
    fit,
    positive_weights,
    ranked,
    with_topics,
)
from paperfeed.rank.recommend.follows import follow_since, followed_papers
from paperfeed.rank.recommend.model import Model
from paperfeed.rank.recommend.preparation import Preparation
from paperfeed.rank.recommend.shortlist import ranked_shortlist, shortlist
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
#: Above this many papers a member's model scores a shortlist drawn from the vector
#: index's graph and the tf-idf postings instead of every paper
#: (:mod:`.shortlist`; ``PAPERFEED_RECOMMEND_SHORTLIST_OVER``).
SHORTLIST_OVER = 200_000
#: Seconds a request waits for the corpus features (and the model's libraries) before
#: answering with the trending list, marked ``preparing``: half the second a first answer
#: may take (#17), so that this answer, made after the wait, comes within it too (at a
#: million papers a worker prepares for about 3 s after it starts; 1 s of waiting made
#: such answers take 1.3 s).
READY_WAIT_SECONDS = 0.5

log = logging.getLogger(__name__)
#: What a member's model was trained on: their signal version and the corpus key.
_ModelKey = tuple[str, tuple[int, int]]


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
    #: True while the hub is still preparing its recommendations (the corpus features
    #: or the model's libraries): the feed is the trending list meanwhile.
    preparing: bool = False


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
        index_dir: Path | None = None,
        topic_memo: MutableMapping[str, list[int]] | None = None,
        shortlist_over: int = SHORTLIST_OVER,
    ) -> None:
        self.engine = engine
        #: The corpus features and the model's libraries, made ready in the background.
        self.preparation = Preparation(
            engine, shortlist_over=shortlist_over, semantic=semantic, index_dir=index_dir
        )
        #: Rankings made from a shortlist (tests check which path ranked).
        self.shortlisted = 0
        #: The papers each cold-start topic text found, kept across members when given (the
        #: digest passes one per edition: members share saved searches, and each text is
        #: searched once); None (the page) searches each time, so new papers join at once.
        #: The owner of the memo decides when it is stale and clears it.
        self.topic_memo = topic_memo
        #: How long a request waits for what is being prepared (None: as long as it takes).
        self.wait_seconds: float | None = READY_WAIT_SECONDS
        self.zone = zone
        self.rule = rule
        self.half_life_days = half_life_days
        self.semantic = semantic
        self.words = words
        self._models: OrderedDict[int, tuple[_ModelKey, Model | None]] = OrderedDict()
        #: Each member's ranked papers, with the key of the model that ranked them.
        self._ranked: OrderedDict[int, tuple[_ModelKey, int, list[tuple[int, float]]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        #: Trainings done (tests check that the cache holds until a signal changes).
        self.trainings = 0

    @property
    def shortlist_over(self) -> int:
        """Corpus size above which models score a shortlist, not every paper."""
        return self.preparation.shortlist_over

    @shortlist_over.setter
    def shortlist_over(self, papers: int) -> None:
        self.preparation.shortlist_over = papers

    def cache(self) -> FeatureCache | None:
        """The feature cache of the recorded embedding model (None before any vector)."""
        return self.preparation.cache()

    def features(self, wait: float | None = None) -> Features | None:
        """The corpus features (see :meth:`.preparation.Preparation.features`)."""
        return self.preparation.features(wait)

    def warm(self) -> None:
        """Prepare in the background what a first answer needs (:mod:`.preparation`)."""
        self.preparation.warm()

    def prepared(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for what :meth:`warm` prepares; whether it is all
        there."""
        return self.preparation.prepared(timeout)

    def topic_papers(self, topics: Sequence[str]) -> list[int]:
        """The papers the cold-start ``topics`` stand for: the best :data:`TOPIC_PAPERS` of a
        search for each text (hybrid, or by words without a vector index; a text that is
        no valid query adds none), taken from :attr:`topic_memo` when it holds the text."""
        found: list[int] = []
        for text in topics:
            memo = self.topic_memo
            hits = memo.get(text) if memo is not None else None
            if hits is None:
                hits = self._search_topic(text)
                if memo is not None:
                    memo[text] = hits
            found.extend(hits)
        return found

    def _search_topic(self, text: str) -> list[int]:
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
            return []
        return [h.paper_id for h in result.hits]

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
            weights, self.topic_papers(signals.topics) if len(weights) < 3 else []
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

    def ranked_for(
        self,
        signals: rec.MemberSignals,
        version: str,
        model: Model,
        features: Features,
        want: int,
    ) -> list[tuple[int, float]]:
        """The model's best ``want`` papers for the member, scored once per model: a later
        answer with the same signals and corpus takes them from the cache."""
        key = (version, features.key)
        with self._lock:
            cached = self._ranked.get(signals.user_id)
            if cached is not None and cached[0] == key and cached[1] >= want:
                self._ranked.move_to_end(signals.user_id)
                return cached[2][:want]
        skip = {s.paper_id for s in signals.positives} | {s.paper_id for s in signals.negatives}
        scored = self._ranked_from_shortlist(model, features, skip, want)
        if scored is None:
            scored = ranked(model, features, skip=skip, limit=want)
        with self._lock:
            self._ranked[signals.user_id] = (key, want, scored)
            while len(self._ranked) > CACHED_MODELS:
                self._ranked.popitem(last=False)
        return scored

    def _ranked_from_shortlist(
        self, model: Model, features: Features, skip: set[int], want: int
    ) -> list[tuple[int, float]] | None:
        """The model's best papers from its shortlist, on a corpus above
        :attr:`shortlist_over` papers whose vector index has a graph (None otherwise:
        every paper is scored)."""
        if len(features.ids) <= self.shortlist_over or self.semantic is None:
            return None
        if features.terms is not None and features.term_postings() is None:
            return None  # feature files from before postings: `paperfeed index update`
        rows = shortlist(model, features, self._nearest)
        if rows is None:
            return None
        with self._lock:
            self.shortlisted += 1
        return ranked_shortlist(model, features, rows, skip=skip, limit=want)

    def _nearest(self, queries: np.ndarray, count: int, ef: int) -> list[np.ndarray] | None:
        """Candidates of the machine's HNSW graph for the shortlist (None without one:
        pgvector, or a corpus searched exactly)."""
        assert self.semantic is not None
        try:
            index = self.semantic.index()
        except ConfigError:
            return None
        if not isinstance(index, VectorIndex):
            return None
        return index.graph_candidates(queries, count, ef)

    def _candidates(
        self,
        scored: Sequence[tuple[int, float]],
        trending_ids: Sequence[int],
        followed: Mapping[int, tuple[str, ...]],
        signals: rec.MemberSignals,
        limit: int,
    ) -> dict[int, StoredPaper]:
        """The papers the feed may be made of, loaded (hidden ones left out). Without
        exclusions only the best ``limit`` model papers (and a margin) can be shown, so
        only those are read, unless hidden or followed ones leave too few."""
        ranked_ids = [pid for pid, _ in scored]
        few = ranked_ids[: 2 * limit + 10] if signals.exclusions.empty else ranked_ids

        def load(model_ids: list[int]) -> dict[int, StoredPaper]:
            wanted = list(dict.fromkeys([*model_ids, *trending_ids, *followed]))
            with self.engine.connect() as conn:
                hidden = moderation.hidden_among(conn, wanted)
                return store.read_papers(conn, [p for p in wanted if p not in hidden])

        loaded = load(few)
        if len(few) < len(ranked_ids) and sum(p in loaded for p in few) - len(followed) <= limit:
            loaded = load(ranked_ids)
        return loaded

    def for_you(
        self,
        user_id: int,
        *,
        now: datetime,
        limit: int = 30,
        patient: bool = False,
    ) -> ForYou:
        """The member's feed. A request waits at most :attr:`wait_seconds` for what is being
        prepared (then answers with trending papers, ``preparing``); ``patient`` (the
        digest) waits as long as it takes."""
        limit = max(1, min(limit, MAX_LIMIT))
        wait = None if patient else self.wait_seconds
        deadline = None if wait is None else time.monotonic() + wait
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
        model: Model | None = None
        scored: list[tuple[int, float]] = []
        paused = signals.settings.paused
        preparing = False
        features: Features | None = None
        if not paused:
            features = self.features(_left(deadline))
            preparing = features is None and self.cache() is not None
            if features is not None and not self.preparation.libraries_ready(_left(deadline)):
                features, preparing = None, True
        if features is not None:
            model = self.model_for(signals, version, features, now)
            if model is not None:
                scored = self.ranked_for(signals, version, model, features, limit * 4 + 50)
        if paused:
            followed = {}
        loaded = self._candidates(scored, trending_ids, followed, signals, limit)
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
        return ForYou(items, paused, positives < 3, positives, preparing)


def _left(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no deadline)."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _candidate(stored: StoredPaper) -> CandidatePaper:
    p = stored.paper
    return CandidatePaper(stored.id, p.title, p.abstract, tuple(p.authors), tuple(p.categories))


_EMPTY = Features(np.empty(0, dtype=np.int64), np.empty((0, 1), dtype=np.float32), None)
