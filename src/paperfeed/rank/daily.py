"""The daily list: the papers featured on one day, most upvoted first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from paperfeed.index.query import typed_day
from paperfeed.models import StoredPaper
from paperfeed.store import featured
from paperfeed.store import papers as store


def parse_day(value: str | None, what: str = "date") -> date | None:
    """A day as typed by a user (YYYY-MM-DD), or a clear error (see :func:`typed_day`)."""
    if value is None:
        return None
    return typed_day(what, value)


@dataclass(frozen=True)
class DailyList:
    """One day's list and its neighbours (``None`` where there is no such day)."""

    day: date | None
    papers: list[StoredPaper]
    previous_day: date | None
    next_day: date | None
    latest_day: date | None


def daily_list(engine: Engine, day: date | None, *, limit: int = 100) -> DailyList:
    """Papers featured on ``day`` (the latest featured day when ``None``)."""
    with engine.connect() as conn:
        latest = featured.latest_featured_day(conn)
        if day is None:
            day = latest
        if day is None:
            return DailyList(None, [], None, None, None)
        listed = featured.featured_between(conn, day, day, limit=limit)
        previous_day = store.adjacent_featured_day(conn, day, later=False)
        next_day = store.adjacent_featured_day(conn, day, later=True)
    return DailyList(day, listed, previous_day, next_day, latest)
