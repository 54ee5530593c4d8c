"""The whole site: every router in the order ``create_app()`` includes them, and the
globals the page templates use."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.templating import Jinja2Templates

from paperfeed.deliver.render import page_text
from paperfeed.deliver.render.markdown import render_markdown
from paperfeed.deliver.routes.account import accounts, recommend_settings, subscriptions
from paperfeed.deliver.routes.api import feeds
from paperfeed.deliver.routes.api import hugging_face as hf_api
from paperfeed.deliver.routes.api import json_api as api
from paperfeed.deliver.routes.community import collections, comments, moderation, submissions, votes
from paperfeed.deliver.routes.reading import authors, for_you, pages, thumbnails
from paperfeed.deliver.web.sessions import current_viewer
from paperfeed.ingest.code_links import code_link

ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    votes.pages,
    votes.api,
    submissions.pages,
    submissions.api,
    comments.pages,
    comments.api,
    collections.pages,
    collections.feeds,
    collections.api,
    moderation.pages,
    moderation.api,
    subscriptions.pages,
    subscriptions.api,
    for_you.pages,
    for_you.api,
    for_you.feeds,
    recommend_settings.router,
    pages.router,
    authors.pages,
    authors.feeds,
    thumbnails.router,
    hf_api.router,
    api.router,
    feeds.router,
    api.health,
)


def install_template_globals(templates: Jinja2Templates) -> None:
    templates.env.globals["viewer"] = current_viewer
    templates.env.filters["markdown"] = render_markdown
    templates.env.globals["plain"] = page_text.plain
    templates.env.globals["code_label"] = page_text.code_label
    templates.env.globals["code_link"] = code_link
    templates.env.filters["plain"] = page_text.plain
    templates.env.filters["compact"] = page_text.compact
    templates.env.filters["papers_count"] = page_text.papers_count
