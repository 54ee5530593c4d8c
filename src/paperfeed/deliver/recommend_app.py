"""Wires recommendations (#7) into the app: the recommender, the "For you" routers and
the digest's "For you" section provider (called once by ``create_app``)."""

from __future__ import annotations

from fastapi import FastAPI

from paperfeed.config import Settings
from paperfeed.deliver import for_you_routes, recommend_settings_routes
from paperfeed.deliver.hub import Hub
from paperfeed.rank.recommend_feed import Recommender
from paperfeed.rank.trending import TrendingRule

ROUTERS = (
    for_you_routes.pages,
    for_you_routes.api,
    for_you_routes.feeds,
    recommend_settings_routes.router,
)


def make_recommender(settings: Settings, hub: Hub) -> Recommender:
    return Recommender(
        hub.engine,
        zone=settings.zone,
        rule=TrendingRule(settings.trending_gravity, settings.trending_window_days),
        half_life_days=settings.recommend_half_life_days,
        semantic=hub.semantic,
        words=hub.words,
    )


def install(app: FastAPI, settings: Settings, hub: Hub) -> Recommender:
    recommender = make_recommender(settings, hub)
    app.state.recommender = recommender
    for router in ROUTERS:
        app.include_router(router)
    return recommender
