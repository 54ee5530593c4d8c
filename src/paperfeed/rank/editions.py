"""When digests go out: editions (a frequency and a local day) and their send times. Pure.

Daily digests go out on the configured week days (by default Sunday to Thursday, the
evenings arXiv announces new papers, US Eastern) at the configured local time; the
weekly digest once a week, on its own day, at the same time. Every time here is
aware; days are counted in the hub's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from paperfeed.config import Settings
from paperfeed.errors import InvalidInputError

Frequency = Literal["daily", "weekly"]
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_days(text: str) -> frozenset[int]:
    """``"sun,mon,tue"`` → week day numbers (Monday 0)."""
    days = set()
    for part in text.replace(" ", "").lower().split(","):
        if part not in DAY_NAMES:
            raise InvalidInputError(f"unknown week day {part!r}: use {', '.join(DAY_NAMES)}")
        days.add(DAY_NAMES.index(part))
    return frozenset(days)


def parse_time(text: str) -> time:
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise InvalidInputError(f"expected a time as HH:MM, got {text!r}") from exc


@dataclass(frozen=True)
class Edition:
    """One digest: ``daily`` of a day, or ``weekly`` of the week ending on that day."""

    frequency: Frequency
    day: date

    @property
    def key(self) -> str:
        if self.frequency == "weekly":
            year, week, _ = self.day.isocalendar()
            return f"weekly:{year}-W{week:02d}"
        return f"daily:{self.day.isoformat()}"


@dataclass(frozen=True)
class DigestSchedule:
    zone: ZoneInfo
    daily_days: frozenset[int] = frozenset({6, 0, 1, 2, 3})
    weekly_day: int = 4
    at: time = time(21, 0)

    def editions_on(self, day: date) -> list[Edition]:
        """The editions that go out on ``day`` (none, daily, weekly or both)."""
        found: list[Edition] = []
        if day.weekday() in self.daily_days:
            found.append(Edition("daily", day))
        if day.weekday() == self.weekly_day:
            found.append(Edition("weekly", day))
        return found

    def slot(self, edition: Edition) -> datetime:
        """When ``edition`` goes out (UTC)."""
        return datetime.combine(edition.day, self.at, tzinfo=self.zone).astimezone(UTC)

    def previous(self, edition: Edition) -> Edition:
        """The edition of the same frequency before ``edition``."""
        day = edition.day - timedelta(days=1)
        for _ in range(8):
            if any(e.frequency == edition.frequency for e in self.editions_on(day)):
                return Edition(edition.frequency, day)
            day -= timedelta(days=1)
        return Edition(edition.frequency, edition.day - timedelta(days=7))

    def window(self, edition: Edition) -> tuple[datetime, datetime]:
        """The papers an edition reports as new: first seen by the hub in (start, end]."""
        return self.slot(self.previous(edition)), self.slot(edition)

    def editions_between(self, start: datetime, end: datetime) -> list[Edition]:
        """Editions whose send time falls in (start, end], in order."""
        found: list[Edition] = []
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            found.extend(e for e in self.editions_on(day) if start < self.slot(e) <= end)
            day += timedelta(days=1)
        return found


def schedule_of(settings: Settings) -> DigestSchedule:
    """The digest schedule the settings describe."""
    weekly = parse_days(settings.digest_weekly_day)
    return DigestSchedule(
        settings.zone,
        parse_days(settings.digest_days),
        min(weekly),
        parse_time(settings.digest_time),
    )
