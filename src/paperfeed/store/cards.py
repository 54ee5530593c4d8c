"""What a paper card shows beyond the paper, for a page of papers in one statement: the
hub's votes, whether the viewer voted, who submitted the paper here, the media type of
its thumbnail and (for the JSON API) its visible comments. Every joined table holds at
most one row per paper (and member), so the statement returns one row per paper whatever
the page's length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, false, func, null, select

from paperfeed.store.tables.community import comments, paper_votes, submissions, users
from paperfeed.store.tables.papers import papers
from paperfeed.store.tables.thumbnails import paper_thumbnails as thumbs


@dataclass(frozen=True)
class CardFacts:
    #: The hub's own upvotes (None when not counted: the caller had them).
    hub_votes: int | None
    #: Whether the member asked about has upvoted the paper.
    upvoted: bool
    #: The user name of the member who submitted the paper here.
    submitted_by: str | None
    #: The thumbnail's media type, when the paper has an image.
    thumbnail: str | None
    #: Visible comments (neither deleted nor hidden; None when not counted).
    comments: int | None = None


def card_facts(
    conn: Connection,
    paper_ids: Sequence[int],
    *,
    user_id: int | None,
    count_votes: bool,
    count_comments: bool = False,
) -> dict[int, CardFacts]:
    """:class:`CardFacts` of each of ``paper_ids`` that exists, as ``user_id`` (or a
    visitor, None) sees them; the votes are counted only when ``count_votes``, the visible
    comments only when ``count_comments``."""
    if not paper_ids:
        return {}
    mine = paper_votes.alias("mine")
    counted = (
        select(func.count())
        .select_from(paper_votes)
        .where(paper_votes.c.paper_id == papers.c.id)
        .scalar_subquery()
        if count_votes
        else null()
    )
    commented = (
        select(func.count())
        .select_from(comments)
        .where(
            comments.c.paper_id == papers.c.id,
            comments.c.deleted_at.is_(None),
            comments.c.hidden_at.is_(None),
        )
        .scalar_subquery()
        if count_comments
        else null()
    )
    voted = mine.c.user_id.is_not(None) if user_id is not None else false()
    joined = (
        papers.outerjoin(submissions, submissions.c.paper_id == papers.c.id)
        .outerjoin(users, users.c.id == submissions.c.user_id)
        .outerjoin(thumbs, and_(thumbs.c.paper_id == papers.c.id, thumbs.c.status == "ok"))
    )
    if user_id is not None:
        joined = joined.outerjoin(
            mine, and_(mine.c.paper_id == papers.c.id, mine.c.user_id == user_id)
        )
    rows = conn.execute(
        select(
            papers.c.id,
            counted.label("hub_votes"),
            voted.label("upvoted"),
            users.c.username,
            thumbs.c.media_type,
            commented.label("comments"),
        )
        .select_from(joined)
        .where(papers.c.id.in_(list(paper_ids)))
    )
    return {
        int(r.id): CardFacts(
            hub_votes=None if r.hub_votes is None else int(r.hub_votes),
            upvoted=bool(r.upvoted),
            submitted_by=None if r.username is None else str(r.username),
            thumbnail=None if r.media_type is None else str(r.media_type),
            comments=None if r.comments is None else int(r.comments),
        )
        for r in rows
    }
