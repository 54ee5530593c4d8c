"""Which new papers are by the authors a member follows (pure): a paper counts when it
carries the followed name and, where the follow is pinned, also the co-author and the
category, and the hub first saw it within the window. Newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from paperfeed.store.follows import AuthoredPaper, Follow

#: Followed authors' papers first seen within this many days lead the feed.
FOLLOW_WINDOW_DAYS = 14


def follow_since(now: datetime) -> datetime:
    return now - timedelta(days=FOLLOW_WINDOW_DAYS)


def matches(follow: Follow, paper: AuthoredPaper) -> bool:
    if follow.name not in paper.authors:
        return False
    if follow.co_author and follow.co_author not in paper.authors:
        return False
    return not follow.category or follow.category in paper.categories


def followed_papers(
    follows: Sequence[Follow], found: Sequence[AuthoredPaper], now: datetime
) -> dict[int, tuple[str, ...]]:
    """Paper id -> the followed names on it, newest paper first."""
    since = follow_since(now)
    out: dict[int, tuple[str, ...]] = {}
    for paper in sorted(found, key=lambda p: (p.seen_at, p.paper_id), reverse=True):
        if not since < paper.seen_at <= now:
            continue
        names = tuple(dict.fromkeys(f.name for f in follows if matches(f, paper)))
        if names:
            out[paper.paper_id] = names
    return out
