"""Daily, weekly and monthly lists and the trending list: the query functions every
channel (pages, JSON API, feeds, CLI) calls, so they all show the same papers.

Periods are counted in the hub's time zone: a paper's ``featured_on`` is already
a day there, a week is an ISO week (Monday to Sunday), a month a calendar month.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from paperfeed.errors import InvalidInputError
from paperfeed.models import Hit, StoredPaper
from paperfeed.rank.trending import TrendingRule, combined_votes, rank_trending
from paperfeed.store import comments as hub_comments
from paperfeed.store import featured
from paperfeed.store import votes as hub_votes

Sort = Literal["votes", "publishedAt", "trending"]
SORTS: tuple[Sort, ...] = ("votes", "publishedAt", "trending")
MAX_LIST = 500
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A day, an ISO week or a month, with its neighbours' labels."""

    kind: Literal["day", "week", "month"]
    first: date
    last: date
    label: str

    @property
    def previous(self) -> Period:
        return _shift(self, -1)

    @property
    def following(self) -> Period:
        return _shift(self, 1)

    @property
    def path(self) -> str:
        return f"/papers/{'date' if self.kind == 'day' else self.kind}/{self.label}"


#: The days a list may cover: a period and its neighbours (the day, week or month before
#: and after it, which pages and answers link to) must lie within Python's calendar.
_FIRST_DAY = date.min + timedelta(days=62)
_LAST_DAY = date.max - timedelta(days=62)


def _listable(period: Period) -> Period:
    """``period``, or an :class:`InvalidInputError` when its neighbours would fall off the
    calendar (year 1 or 9999): a clear 400 instead of an ``OverflowError``."""
    if period.first < _FIRST_DAY or period.last > _LAST_DAY:
        raise InvalidInputError(
            f"{period.kind}: {period.label} is out of range: lists cover "
            f"{_FIRST_DAY.isoformat()} to {_LAST_DAY.isoformat()}"
        )
    return period


def day_period(day: date) -> Period:
    return _listable(_day(day))


def _day(day: date) -> Period:
    return Period("day", day, day, day.isoformat())


def week_period(label: str) -> Period:
    return _listable(_week(label))


def _week(label: str) -> Period:
    match = _WEEK.match(label)
    if not match:
        raise InvalidInputError(f"week: expected YYYY-Www such as 2026-W47, got {label[:20]!r}")
    try:
        monday = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
        sunday = monday + timedelta(days=6)
    except (ValueError, OverflowError) as exc:
        raise InvalidInputError(f"week: no such week {label!r}") from exc
    return Period("week", monday, sunday, label)


def month_period(label: str) -> Period:
    return _listable(_month(label))


def _month(label: str) -> Period:
    match = _MONTH.match(label)
    if not match:
        raise InvalidInputError(f"month: expected YYYY-MM such as 2026-11, got {label[:20]!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        raise InvalidInputError(f"month: no such month {label!r}")
    last = calendar.monthrange(year, month)[1]
    return Period("month", date(year, month, 1), date(year, month, last), label)


def _shift(period: Period, step: int) -> Period:
    if period.kind == "day":
        return _day(period.first + timedelta(days=step))
    if period.kind == "week":
        year, week, _ = (period.first + timedelta(weeks=step)).isocalendar()
        return _week(f"{year}-W{week:02d}")
    month_index = period.first.year * 12 + period.first.month - 1 + step
    return _month(f"{month_index // 12:04d}-{month_index % 12 + 1:02d}")


def week_of(day: date) -> Period:
    year, week, _ = day.isocalendar()
    return week_period(f"{year}-W{week:02d}")


def month_of(day: date) -> Period:
    return month_period(f"{day.year:04d}-{day.month:02d}")


@dataclass(frozen=True)
class ListPage:
    """One page of a list: papers in order, their ranking scores, whether more follow."""

    papers: list[StoredPaper]
    hits: list[Hit]
    offset: int
    limit: int
    more: bool
    #: Votes per paper of the page: imported upvotes plus the hub's own.
    votes: dict[int, int] = field(default_factory=dict)
    #: Visible comments per paper of the page (absent: none).
    comments: dict[int, int] = field(default_factory=dict)
    #: Papers of the whole list, over all its pages (a trending list ranks at most
    #: ``MAX_LIST``).
    total: int = 0
    #: A trending list ranked as of the end of this past list day, since nothing was
    #: featured in the window ending today (``None``: ranked as of now).
    as_of: date | None = None


def _check(sort: str, limit: int, offset: int) -> Sort:
    if sort not in SORTS:
        raise InvalidInputError(f"sort: use one of {', '.join(SORTS)}")
    if not 1 <= limit <= 100:
        raise InvalidInputError("limit must be between 1 and 100")
    if not 0 <= offset <= 10_000:
        raise InvalidInputError("offset must be between 0 and 10,000")
    return sort


def period_list(
    engine: Engine,
    period: Period,
    *,
    sort: str = "votes",
    limit: int = 50,
    offset: int = 0,
    now: datetime,
    zone: ZoneInfo,
    rule: TrendingRule,
    submitter: str | None = None,
) -> ListPage:
    """The papers featured in ``period``, sorted by votes, by publication or by trending
    score; only those ``submitter`` put on the list, when given."""
    checked = _check(sort, limit, offset)
    with engine.connect() as conn:
        if checked == "trending":
            pool = featured.featured_between(
                conn, period.first, period.last, limit=MAX_LIST, submitter=submitter
            )
            # The whole period counts, however old: the rule's gravity with no window.
            whole = TrendingRule(rule.gravity, 10**5)
            return _trending_page(conn, pool, now, zone, whole, limit=limit, offset=offset)
        found = featured.featured_between(
            conn,
            period.first,
            period.last,
            limit=limit + 1,
            offset=offset,
            order="published" if checked == "publishedAt" else "votes",
            submitter=submitter,
        )
        page = found[:limit]
        ids = [s.id for s in page]
        counted = combined_votes(page, hub_votes.counts(conn, ids))
        comment_counts = hub_comments.counts(conn, ids)
        more = len(found) > limit
        # A first page that holds the whole list needs no count.
        total = (
            len(page)
            if offset == 0 and not more
            else featured.count_featured(conn, period.first, period.last, submitter=submitter)
        )
    return ListPage(
        page,
        [Hit(s.id, float(counted[s.id])) for s in page],
        offset,
        limit,
        more,
        votes=counted,
        comments=comment_counts,
        total=total,
    )


def trending_list(
    engine: Engine,
    *,
    now: datetime,
    zone: ZoneInfo,
    rule: TrendingRule,
    limit: int = 50,
    offset: int = 0,
    latest_when_stale: bool = False,
) -> ListPage:
    """Papers of the trending window, best trending score first.

    With ``latest_when_stale``, a hub that featured nothing in the window ending today
    (a demo of past lists, a paused hub) ranks the window ending on its latest list day,
    as of the end of that day, and says so in ``as_of``; feeds and digests leave it off.
    """
    _check("trending", limit, offset)
    today = now.astimezone(zone).date()
    as_of = None
    with engine.connect() as conn:
        if latest_when_stale:
            latest = featured.latest_featured_day(conn)
            if latest is not None and latest < today - timedelta(days=rule.window_days):
                today = as_of = latest
                now = datetime.combine(latest + timedelta(days=1), time.min, tzinfo=zone)
        pool = featured.featured_between(
            conn, today - timedelta(days=rule.window_days), today, limit=MAX_LIST
        )
        page = _trending_page(conn, pool, now, zone, rule, limit=limit, offset=offset)
    return replace(page, as_of=as_of)


def _trending_page(
    conn: Connection,
    pool: list[StoredPaper],
    now: datetime,
    zone: ZoneInfo,
    rule: TrendingRule,
    *,
    limit: int,
    offset: int,
) -> ListPage:
    """One page of ``pool`` by trending score, the hub's votes counted."""
    counted = combined_votes(pool, hub_votes.counts(conn, [s.id for s in pool]))
    hits = rank_trending(pool, now=now, zone=zone, rule=rule, votes=counted)
    by_id = {s.id: s for s in pool}
    window = hits[offset : offset + limit]
    shown = [by_id[h.paper_id] for h in window]
    return ListPage(
        shown,
        window,
        offset,
        limit,
        len(hits) > offset + limit,
        votes={s.id: counted[s.id] for s in shown},
        comments=hub_comments.counts(conn, [s.id for s in shown]),
        total=len(hits),
    )
