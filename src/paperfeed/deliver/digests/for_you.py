"""The digest's "For you" section (#7): a section provider for
:class:`~paperfeed.deliver.digests.content.DigestContent` that gives a member's digest
their recommendations as of the edition's send time (the same ``for_you()`` as the page).
Subscribers without an account, and members who paused personalisation, get none."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.index.lexical_tantivy import WordIndex
from paperfeed.index.semantic import SemanticIndex
from paperfeed.rank.digest import Section
from paperfeed.rank.editions import DigestSchedule, Edition, schedule_of
from paperfeed.rank.recommend_feed import Recommender
from paperfeed.rank.trending import TrendingRule
from paperfeed.store.subscriptions import Subscriber

TITLE = "For you"


class ForYouSection:
    def __init__(self, recommender: Recommender, schedule: DigestSchedule, count: int) -> None:
        self.recommender = recommender
        self.schedule = schedule
        self.count = count

    def __call__(self, subscriber: Subscriber, edition: Edition) -> Sequence[Section]:
        if subscriber.user_id is None or self.count <= 0:
            return []
        shown = self.recommender.for_you(
            subscriber.user_id, now=self.schedule.slot(edition), limit=self.count, patient=True
        )
        if shown.paused:
            return []
        papers = tuple(i.stored for i in shown.items if i.recommendation.source != "trending")
        return [Section("recommended", TITLE, papers)] if papers else []


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
    )
    return ForYouSection(recommender, schedule_of(settings), settings.digest_recommend_count)
