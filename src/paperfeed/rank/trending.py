"""The trending formula, published (shown on the trending page and in docs/design.md).

    score = (votes + 1) / (age_hours + 2) ** gravity

* ``votes``: the paper's upvotes: those imported from a source (Hugging Face) plus
  the hub's own members' votes (:func:`combined_votes`);
* ``age_hours``: hours since the paper was featured (midnight of its featured day
  in the hub's time zone), or since it was published when it was never featured;
* ``gravity`` (setting ``PAPERFEED_TRENDING_GRAVITY``, default 1.8) makes old
  papers sink; papers older than ``PAPERFEED_TRENDING_WINDOW_DAYS`` are not ranked.

The +1 lets a new paper with no votes yet appear; the +2 keeps a paper featured
a minute ago from dividing by zero. This is Hacker News' well-known ranking, chosen
because readers can predict it. Pure: it takes the data and ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from paperfeed.models import Hit, StoredPaper

FORMULA = "score = (votes + 1) / (hours since featured + 2) ^ gravity"


@dataclass(frozen=True)
class TrendingRule:
    gravity: float = 1.8
    window_days: int = 7


def reference_time(stored: StoredPaper, zone: ZoneInfo) -> datetime | None:
    """When a paper's clock starts: its featured day's midnight, else its publication."""
    paper = stored.paper
    if paper.featured_on is not None:
        return datetime.combine(paper.featured_on, time.min, tzinfo=zone)
    return paper.published_at


def total_votes(stored: StoredPaper, hub_votes: int) -> int:
    """The votes a paper shows and the formula counts: those imported from a source plus
    the hub's own."""
    return (stored.paper.upvotes or 0) + hub_votes


def combined_votes(papers: Sequence[StoredPaper], hub_votes: dict[int, int]) -> dict[int, int]:
    """:func:`total_votes` of each paper, given the hub's votes per paper id."""
    return {s.id: total_votes(s, hub_votes.get(s.id, 0)) for s in papers}


def trending_score(votes: int, age_hours: float, gravity: float) -> float:
    return float((max(votes, 0) + 1) / (max(age_hours, 0.0) + 2) ** gravity)


def rank_trending(
    papers: Sequence[StoredPaper],
    *,
    now: datetime,
    zone: ZoneInfo,
    rule: TrendingRule = TrendingRule(),
    votes: dict[int, int] | None = None,
) -> list[Hit]:
    """Papers within the window, best score first (ties: newer, then id)."""
    horizon = now - timedelta(days=rule.window_days)
    scored: list[tuple[float, datetime, int]] = []
    for stored in papers:
        start = reference_time(stored, zone)
        if start is None or start < horizon or start > now:
            continue
        count = votes.get(stored.id, 0) if votes is not None else stored.paper.upvotes or 0
        age = (now - start).total_seconds() / 3600
        scored.append((trending_score(count, age, rule.gravity), start, stored.id))
    scored.sort(key=lambda t: (-t[0], -t[1].timestamp(), t[2]))
    return [Hit(pid, score, reason=f"{score:.4f}") for score, _, pid in scored]
