"""Wires the research community into the app: accounts, the viewer middleware, the
template globals and the community's routers (called once by ``create_app``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver import (
    account_routes,
    collection_routes,
    comment_routes,
    moderation_routes,
    security,
    social,
    submission_routes,
    vote_routes,
)
from paperfeed.deliver.accounts import Accounts
from paperfeed.deliver.curation import Curation
from paperfeed.deliver.discussion import Discussion
from paperfeed.deliver.markdown import render_markdown
from paperfeed.deliver.moderation import Moderation
from paperfeed.deliver.sessions import ViewerMiddleware, current_viewer

ROUTERS = (
    account_routes.router,
    vote_routes.pages,
    vote_routes.api,
    submission_routes.pages,
    submission_routes.api,
    comment_routes.pages,
    comment_routes.api,
    collection_routes.pages,
    collection_routes.feeds,
    collection_routes.api,
    moderation_routes.pages,
    moderation_routes.api,
)


def install(
    app: FastAPI, settings: Settings, engine: Engine, clock: Clock, templates: Jinja2Templates
) -> Accounts:
    accounts = Accounts(settings, engine, clock, security.load_secret(settings))
    app.state.accounts = accounts
    templates.env.globals["viewer"] = current_viewer
    templates.env.globals["social"] = social.social
    templates.env.globals["social_prefetch"] = social.social_prefetch
    templates.env.globals["comment_threads"] = social.comment_threads
    templates.env.globals["can"] = social.can
    templates.env.globals["my_collections"] = social.my_collections
    templates.env.globals["is_hidden"] = social.is_hidden
    templates.env.filters["markdown"] = render_markdown
    app.state.discussion = Discussion(engine, clock)
    app.state.curation = Curation(engine, clock)
    app.state.moderation = Moderation(engine, clock)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(ViewerMiddleware, accounts=accounts)
    return accounts
