"""The digest's "For you" section (#7, #17): a section provider for
:class:`~paperfeed.deliver.digests.content.DigestContent` that gives each member's digest
their recommendations among the edition's new papers, composed for a block of members at
once (:meth:`ForYouSection.many`).

What a member gets is their "For you" feed as the page makes it (``Recommender.for_you``
at the edition's send time: the same model, trained on the same signals with the same
seed and cold-start topics; the same score; hidden papers, exclusions and the member's
own papers left out; followed authors' papers first; trending papers mixed in at the
member's exploration share and then dropped, since the digest has its own trending
section), with one difference: the papers it ranks are the ones the hub first saw in the
edition's window (the papers a saved search reports as new), not the whole corpus. A
digest is about what is new, and without it a member would be mailed the same best
papers of all time every day. When every paper is new in the window the section is
exactly the page's feed without its trending papers; a test checks it.

Done once per edition and shared by every member: the window's papers (loaded, hidden
ones known), the trending list the feed mixes in, the corpus features. Per block of
members: their signals, their models (trained as the page trains them; cold-start topic
searches run once per distinct text), and one matrix product scoring the block over the
new papers (:mod:`paperfeed.rank.recommend.batch`) instead of a pass over the corpus per
member. Subscribers without an account, and members who paused personalisation, get none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.recommend.features import Features
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import StoredPaper
from paperfeed.rank.digest import Section
from paperfeed.rank.editions import DigestSchedule, Edition, schedule_of
from paperfeed.rank.lists import trending_list
from paperfeed.rank.recommend.batch import ranked_block
from paperfeed.rank.recommend.decisions import CandidatePaper, assemble
from paperfeed.rank.recommend.feed import MAX_LIMIT, Recommender
from paperfeed.rank.recommend.follows import follow_since, followed_papers
from paperfeed.rank.recommend.model import Model
from paperfeed.rank.trending import TrendingRule
from paperfeed.store import follows as follows_store
from paperfeed.store import moderation
from paperfeed.store import papers as paper_store
from paperfeed.store import recommendations as rec
from paperfeed.store.first_seen import first_seen_between
from paperfeed.store.subscriptions import Subscriber

TITLE = "For you"
#: Trending papers the page's feed mixes in (``Recommender.for_you`` reads as many).
TRENDING_MIXED = 50


@dataclass(frozen=True)
class EditionPapers:
    """What every member's section of one edition shares."""

    key: str
    now: datetime
    #: The papers first seen in the edition's window, hidden ones included (they are
    #: scored, as the page scores them, and left out when the feed is assembled).
    new_ids: tuple[int, ...]
    trending_ids: tuple[int, ...]
    #: Papers a feed may show (new and trending ones, hidden ones left out).
    stored: dict[int, StoredPaper]
    candidates: dict[int, CandidatePaper]
    features: Features | None


@dataclass(frozen=True)
class _Member:
    subscriber_id: int
    signals: rec.MemberSignals
    followed: dict[int, tuple[str, ...]]
    model: Model | None


def _candidate(stored: StoredPaper) -> CandidatePaper:
    p = stored.paper
    return CandidatePaper(stored.id, p.title, p.abstract, tuple(p.authors), tuple(p.categories))


class ForYouSection:
    def __init__(self, recommender: Recommender, schedule: DigestSchedule, count: int) -> None:
        self.recommender = recommender
        self.schedule = schedule
        self.count = count
        self._edition: EditionPapers | None = None

    def __call__(self, subscriber: Subscriber, edition: Edition) -> Sequence[Section]:
        return self.many([subscriber], edition).get(subscriber.id, [])

    def edition_papers(self, edition: Edition) -> EditionPapers:
        """The shared part of ``edition`` (looked up once, kept for the next blocks)."""
        if self._edition is not None and self._edition.key == edition.key:
            return self._edition
        if self.recommender.topic_memo is not None:
            self.recommender.topic_memo.clear()  # a new edition: topics may find new papers
        now = self.schedule.slot(edition)
        start, end = self.schedule.window(edition)
        engine = self.recommender.engine
        trending = trending_list(
            engine,
            now=now,
            zone=self.recommender.zone,
            rule=self.recommender.rule,
            limit=TRENDING_MIXED,
        ).papers
        with engine.connect() as conn:
            new_ids = first_seen_between(conn, start, end)
            wanted = list(dict.fromkeys([*new_ids, *(s.id for s in trending)]))
            hidden = moderation.hidden_among(conn, wanted)
            stored = paper_store.read_papers(conn, [p for p in wanted if p not in hidden])
        self._edition = EditionPapers(
            edition.key,
            now,
            tuple(new_ids),
            tuple(s.id for s in trending),
            stored,
            {pid: _candidate(s) for pid, s in stored.items()},
            self.recommender.features(),
        )
        return self._edition

    def _member(self, sub: Subscriber, shared: EditionPapers, features: Features) -> _Member:
        assert sub.user_id is not None
        now = shared.now
        with self.recommender.engine.connect() as conn:
            signals = rec.signals_of(conn, sub.user_id)
            version = rec.signal_version(conn, sub.user_id)
            follows = follows_store.follows_of(conn, sub.user_id)
            found = follows_store.papers_by_names(
                conn, sorted({f.name for f in follows}), since=follow_since(now)
            )
        new = set(shared.new_ids)
        followed = {
            pid: names for pid, names in followed_papers(follows, found, now).items() if pid in new
        }
        model = self.recommender.model_for(signals, version, features, now)
        return _Member(sub.id, signals, followed, model)

    def many(self, subscribers: Sequence[Subscriber], edition: Edition) -> dict[int, list[Section]]:
        """The sections of each subscriber of ``subscribers`` (by subscriber id; absent:
        none), scored together."""
        members = [s for s in subscribers if s.user_id is not None]
        if self.count <= 0 or not members:
            return {}
        shared = self.edition_papers(edition)
        features = shared.features
        if features is None or not shared.new_ids:
            return {}
        limit = max(1, min(self.count, MAX_LIMIT))
        active = [
            m
            for m in (self._member(s, shared, features) for s in members)
            if not m.signals.settings.paused
        ]
        with_model = [m for m in active if m.model is not None]
        ranked = ranked_block(
            [m.model for m in with_model if m.model is not None],
            features,
            shared.new_ids,
            skips=[
                {s.paper_id for s in m.signals.positives}
                | {s.paper_id for s in m.signals.negatives}
                for m in with_model
            ],
            limit=limit * 4 + 50,
        )
        scored = {m.subscriber_id: found for m, found in zip(with_model, ranked, strict=True)}
        out: dict[int, list[Section]] = {}
        for member in active:
            recs = assemble(
                model=member.model,
                features=features,
                scored=scored.get(member.subscriber_id, []),
                candidates=shared.candidates,
                signals=member.signals,
                trending=shared.trending_ids,
                followed=member.followed,
                limit=limit,
            )
            papers = tuple(shared.stored[r.paper_id] for r in recs if r.source != "trending")
            if papers:
                out[member.subscriber_id] = [Section("recommended", TITLE, papers)]
        return out


def for_you_provider(
    settings: Settings,
    engine: Engine,
    *,
    semantic: SemanticIndex | None = None,
    words: WordIndex | None = None,
) -> ForYouSection:
    """The provider the digest sender registers (``PAPERFEED_DIGEST_RECOMMEND_COUNT``)."""
    recommender = Recommender(
        engine,
        zone=settings.zone,
        rule=TrendingRule(settings.trending_gravity, settings.trending_window_days),
        half_life_days=settings.recommend_half_life_days,
        semantic=semantic,
        words=words,
        index_dir=Path(settings.index_dir),
        topic_memo={},  # each cold-start topic text searched once per edition
    )
    return ForYouSection(recommender, schedule_of(settings), settings.digest_recommend_count)
