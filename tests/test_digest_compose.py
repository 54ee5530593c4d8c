"""The pure parts of digests: editions and their send times, windows, composition."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from paperfeed.errors import InvalidInputError
from paperfeed.models import Paper, StoredPaper
from paperfeed.rank.digest import compose, new_in_window
from paperfeed.rank.editions import DigestSchedule, Edition, parse_days, parse_time

EASTERN = ZoneInfo("America/New_York")
SCHEDULE = DigestSchedule(EASTERN)  # daily Sunday to Thursday, weekly Friday, 21:00


def _paper(pid: int, seen: datetime) -> StoredPaper:
    return StoredPaper(pid, Paper(title=f"Paper {pid}", abstract="A."), seen, seen)


def test_daily_editions_follow_arxiv_announcement_evenings() -> None:
    # 2026-11-22 is a Sunday.
    days = [date(2026, 11, 22) + timedelta(days=n) for n in range(7)]
    kinds = [[e.frequency for e in SCHEDULE.editions_on(d)] for d in days]
    assert kinds == [["daily"], ["daily"], ["daily"], ["daily"], ["daily"], ["weekly"], []]
    monday = Edition("daily", date(2026, 11, 23))
    assert monday.key == "daily:2026-11-23"
    assert Edition("weekly", date(2026, 11, 27)).key == "weekly:2026-W48"
    # 21:00 Eastern in November is 02:00 UTC the next day.
    assert SCHEDULE.slot(monday) == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert SCHEDULE.previous(monday) == Edition("daily", date(2026, 11, 22))
    sunday = Edition("daily", date(2026, 11, 29))
    assert SCHEDULE.previous(sunday) == Edition("daily", date(2026, 11, 26))  # Thursday
    weekly = Edition("weekly", date(2026, 11, 27))
    assert SCHEDULE.previous(weekly) == Edition("weekly", date(2026, 11, 20))


def test_send_times_keep_local_time_across_daylight_saving() -> None:
    summer = Edition("daily", date(2026, 7, 6))
    assert SCHEDULE.slot(summer) == datetime(2026, 7, 7, 1, 0, tzinfo=UTC)


def test_editions_between_two_instants() -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    found = SCHEDULE.editions_between(start, start + timedelta(days=5))
    assert [e.key for e in found] == [
        "daily:2026-11-23",
        "daily:2026-11-24",
        "daily:2026-11-25",
        "daily:2026-11-26",
        "weekly:2026-W48",
    ]
    just_before = SCHEDULE.slot(found[0]) - timedelta(seconds=1)
    assert SCHEDULE.editions_between(start, just_before) == []


def test_settings_parse() -> None:
    assert parse_days("sun, mon") == frozenset({6, 0})
    assert parse_time("07:30") == time(7, 30)
    with pytest.raises(InvalidInputError):
        parse_days("sunday")
    with pytest.raises(InvalidInputError):
        parse_time("7pm")


def test_only_papers_new_in_the_window_are_alerts() -> None:
    edition = Edition("daily", date(2026, 11, 23))
    start, end = SCHEDULE.window(edition)
    old, new, future = (
        _paper(1, start - timedelta(hours=1)),
        _paper(2, start + timedelta(hours=1)),
        _paper(3, end + timedelta(hours=1)),
    )
    assert new_in_window([old, new, future], start, end, 5) == [new]
    assert new_in_window([new, new], start, end, 1) == [new]


def test_compose_orders_sections_and_leaves_out_empty_ones() -> None:
    edition = Edition("daily", date(2026, 11, 23))
    seen = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    trending = [_paper(1, seen), _paper(2, seen)]
    digest = compose(
        edition,
        trending=trending,
        matches=[("training-free adaptation", [_paper(3, seen)]), ("nothing new", [])],
    )
    assert [s.kind for s in digest.sections] == ["trending", "search"]
    assert digest.sections[1].title == "New papers matching “training-free adaptation”"
    assert digest.paper_count == 3 and not digest.empty
    assert digest.subject == "Trending papers, Monday, November 23 · 1 new for your searches"
    weekly = compose(Edition("weekly", date(2026, 11, 27)), trending=[], matches=[])
    assert weekly.empty and weekly.subject == "Your weekly papers, Friday, November 27"
