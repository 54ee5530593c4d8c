"""Paper thumbnails as the hub serves them (``/thumbnails/{paper}.webp``), and what the
card templates ask about them.

The images are made by ``paperfeed thumbnails fetch`` (:mod:`paperfeed.ingest.thumbnails`)
and kept in the database, so a reader's browser only ever asks this hub. A made thumbnail
never changes, hence the year-long, immutable cache lifetime. A paper without one gets a
typographic card (``_papers.html``), never a broken image: a card shows an ``<img>`` only
for papers :func:`cards_prefetch` found an image for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from jinja2 import pass_context

from paperfeed.deliver.community.social import social_prefetch
from paperfeed.deliver.web.deps import hub_of
from paperfeed.errors import NotFoundError
from paperfeed.models import StoredPaper
from paperfeed.store import thumbnails as store

router = APIRouter(include_in_schema=False)

EXTENSIONS = {"image/webp": "webp", "image/png": "png", "image/jpeg": "jpg"}
CACHE_CONTROL = "public, max-age=31536000, immutable"
_NAME = re.compile(r"(\d{1,12})\.(webp|png|jpg)")

# The papers of this page that have an image: {paper id: media type}.
_known: ContextVar[dict[int, str] | None] = ContextVar("paperfeed_thumbnails", default=None)


@router.get("/thumbnails/{name}")
def thumbnail_image(request: Request, name: str) -> Response:
    match = _NAME.fullmatch(name)
    if match is None:
        raise NotFoundError("no such thumbnail")
    hub = hub_of(request)
    with hub.engine.connect() as conn:
        found = store.get(conn, int(match.group(1)))
    if found is None or EXTENSIONS.get(found.media_type) != match.group(2):
        raise NotFoundError("no such thumbnail")
    return Response(
        found.image,
        media_type=found.media_type,
        headers={"Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"},
    )


def thumbnail_path(paper_id: int, media_type: str) -> str:
    return f"/thumbnails/{paper_id}.{EXTENSIONS.get(media_type, 'png')}"


@pass_context
def cards_prefetch(context: Any, papers: Sequence[StoredPaper]) -> str:
    """Load what the cards of ``papers`` show beyond the paper: its votes and submitter
    (:func:`social_prefetch`) and whether it has a thumbnail. Call it before a list."""
    social_prefetch(papers)
    request = context.get("request")
    if request is None or not papers:
        return ""
    known = _known.get()
    if known is None:
        known = {}
        _known.set(known)
    wanted = [s.id for s in papers if s.id not in known]
    if wanted:
        with hub_of(request).engine.connect() as conn:
            found = store.available(conn, wanted)
        known.update({i: found.get(i, "") for i in wanted})
    return ""


def thumbnail(stored: StoredPaper) -> str | None:
    """The path of the paper's thumbnail, or None (for papers not prefetched, too)."""
    known = _known.get() or {}
    media_type = known.get(stored.id)
    return thumbnail_path(stored.id, media_type) if media_type else None
