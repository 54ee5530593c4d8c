"""The hub's services, built once by ``create_app()`` and reached through one typed object
(``app.state.services``; routes take them through :mod:`paperfeed.deliver.web.deps`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.deliver import security
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.deliver.community.collections import Collections
from paperfeed.deliver.community.comments import Comments
from paperfeed.deliver.community.moderation import Moderation
from paperfeed.deliver.community.recommend_settings import RecommendSettings
from paperfeed.deliver.digests.subscriptions import Subscriptions
from paperfeed.deliver.web.hub import Hub
from paperfeed.rank.recommend.feed import Recommender
from paperfeed.rank.trending import TrendingRule


@dataclass(frozen=True, slots=True)
class Services:
    """Accounts, comments, collections, moderation, digest subscriptions, recommendations
    and each member's steering of them."""

    accounts: Accounts
    comments: Comments
    collections: Collections
    moderation: Moderation
    subscriptions: Subscriptions
    recommender: Recommender
    recommend_settings: RecommendSettings


def build_services(settings: Settings, hub: Hub) -> Services:
    secret = security.load_secret(settings)
    return Services(
        accounts=Accounts(settings, hub.engine, hub.clock, secret),
        comments=Comments(hub.engine, hub.clock),
        collections=Collections(hub.engine, hub.clock),
        moderation=Moderation(hub.engine, hub.clock),
        subscriptions=Subscriptions(settings, hub.engine, hub.clock, secret),
        recommender=Recommender(
            hub.engine,
            zone=settings.zone,
            rule=TrendingRule(settings.trending_gravity, settings.trending_window_days),
            half_life_days=settings.recommend_half_life_days,
            semantic=hub.semantic,
            words=hub.words,
            index_dir=Path(settings.index_dir),
            shortlist_over=settings.recommend_shortlist_over,
        ),
        recommend_settings=RecommendSettings(hub.engine, hub.clock),
    )
