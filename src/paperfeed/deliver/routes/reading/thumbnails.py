"""Paper thumbnails as the hub serves them (``/thumbnails/{paper}.webp``).

The images are made by ``paperfeed thumbnails fetch`` (:mod:`paperfeed.ingest.thumbnails`)
and kept in the database, so a reader's browser only ever asks this hub. A made thumbnail
never changes, hence the year-long, immutable cache lifetime. A paper without one gets a
typographic card (``_papers.html``), never a broken image: a card shows an ``<img>`` only
for papers its route found an image for (:func:`paperfeed.deliver.web.cards.load_cards`).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed.deliver.web.cards import EXTENSIONS
from paperfeed.deliver.web.deps import hub_of
from paperfeed.errors import NotFoundError
from paperfeed.store import thumbnails as store

router = APIRouter(include_in_schema=False)

CACHE_CONTROL = "public, max-age=31536000, immutable"
_NAME = re.compile(r"(\d{1,12})\.(webp|png|jpg)")


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
