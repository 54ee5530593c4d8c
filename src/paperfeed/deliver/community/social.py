"""What the community adds to a paper card: its votes (imported plus the hub's own),
whether the viewer upvoted it, who submitted it. Loaded once per page: templates call
``social_prefetch(papers)`` before a list and ``social(stored)`` per card; a card whose
paper was not prefetched loads its own."""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy import Engine

from paperfeed.deliver.community import permissions
from paperfeed.deliver.community.comments import Thread, threads
from paperfeed.models import StoredPaper
from paperfeed.rank.trending import total_votes
from paperfeed.store import collections, comments, moderation, submissions, votes
from paperfeed.store.collections import Collection
from paperfeed.store.users import Member


@dataclass(frozen=True)
class Social:
    votes: int
    upvoted: bool
    submitted_by: str | None


@dataclass
class SocialCache:
    engine: Engine
    member: Member | None
    known: dict[int, Social]
    hidden: dict[int, bool] = field(default_factory=dict)

    def load(self, papers: Sequence[StoredPaper]) -> None:
        wanted = [s for s in papers if s.id not in self.known]
        if not wanted:
            return
        ids = [s.id for s in wanted]
        with self.engine.connect() as conn:
            counted = votes.counts(conn, ids)
            mine = votes.voted(conn, self.member.id, ids) if self.member else set()
            by = submissions.submitters(conn, ids)
        for stored in wanted:
            self.known[stored.id] = Social(
                votes=total_votes(stored, counted.get(stored.id, 0)),
                upvoted=stored.id in mine,
                submitted_by=by.get(stored.id),
            )


_cache: ContextVar[SocialCache | None] = ContextVar("paperfeed_social", default=None)


def start(engine: Engine, member: Member | None) -> object:
    return _cache.set(SocialCache(engine, member, {}))


def finish(token: object) -> None:
    _cache.reset(token)  # type: ignore[arg-type]


def social_prefetch(papers: Sequence[StoredPaper]) -> str:
    cache = _cache.get()
    if cache is not None:
        cache.load(papers)
    return ""


def social(stored: StoredPaper) -> Social:
    cache = _cache.get()
    if cache is None:
        return Social(total_votes(stored, 0), False, None)
    if stored.id not in cache.known:
        cache.load([stored])
    return cache.known[stored.id]


def comment_threads(stored: StoredPaper) -> list[Thread]:
    """The paper's comment threads as the viewer may see them (templates call this)."""
    cache = _cache.get()
    if cache is None:
        return []
    with cache.engine.connect() as conn:
        found = comments.thread(conn, stored.id)
    return threads(found, moderator=permissions.allowed(cache.member, "hide"))


def can(action: permissions.Action, owner_id: int | None = None) -> bool:
    cache = _cache.get()
    return permissions.allowed(cache.member if cache else None, action, owner_id)


def my_collections() -> list[Collection]:
    """The viewer's collections (for the paper page's "add to a collection" form)."""
    cache = _cache.get()
    if cache is None or cache.member is None:
        return []
    with cache.engine.connect() as conn:
        return collections.of_user(conn, cache.member.id)


def is_hidden(stored: StoredPaper) -> bool:
    """Whether moderators hid this paper (the paper page asks; one query a page)."""
    cache = _cache.get()
    if cache is None:
        return False
    if stored.id not in cache.hidden:
        with cache.engine.connect() as conn:
            cache.hidden[stored.id] = bool(moderation.hidden_among(conn, [stored.id]))
    return cache.hidden[stored.id]
