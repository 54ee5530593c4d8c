"""``paperfeed schedule``: ingestion and digests at their configured local times.

:func:`due_jobs` is pure: given the plan and the instants ``since`` and ``now``, it lists
the jobs whose time fell in between. The loop (:func:`run_schedule`) asks it every
``interval`` seconds, starting ``catch_up`` before its own start, so a scheduler
restarted a little after a job's time still runs it. That is safe because every job
may run twice: ingestion merges what it already has, and a digest's ledger sends each
digest once whatever the number of runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError
from paperfeed.rank.editions import DigestSchedule, Edition, parse_time, schedule_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    kind: Literal["ingest", "digest"]
    at: datetime
    #: The ``paperfeed ingest`` arguments of an ingest job.
    args: str = ""
    edition: Edition | None = None

    def describe(self) -> str:
        what = f"ingest {self.args}" if self.kind == "ingest" else f"digest {self.edition_key}"
        return f"{what} (due {self.at.isoformat()})"

    @property
    def edition_key(self) -> str:
        return self.edition.key if self.edition is not None else ""


@dataclass(frozen=True)
class Plan:
    digests: DigestSchedule
    ingest_at: time
    ingest: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Plan:
        return cls(
            schedule_of(settings),
            parse_time(settings.schedule_ingest_time),
            tuple(settings.schedule_ingest),
        )

    def ingest_slot(self, day: date) -> datetime:
        return datetime.combine(day, self.ingest_at, tzinfo=self.digests.zone).astimezone(UTC)


def due_jobs(plan: Plan, since: datetime, now: datetime) -> list[Job]:
    """Jobs whose time is in (since, now], oldest first (ingestion first on a tie)."""
    jobs: list[Job] = []
    zone = plan.digests.zone
    day = since.astimezone(zone).date()
    while day <= now.astimezone(zone).date():
        at = plan.ingest_slot(day)
        if day.weekday() in plan.digests.daily_days and since < at <= now:
            jobs.extend(Job("ingest", at, args=args) for args in plan.ingest)
        day += timedelta(days=1)
    for edition in plan.digests.editions_between(since, now):
        jobs.append(Job("digest", plan.digests.slot(edition), edition=edition))
    order = {"ingest": 0, "digest": 1}
    return sorted(jobs, key=lambda j: (j.at, order[j.kind]))


def run_schedule(
    plan: Plan,
    clock: Clock,
    run_job: Callable[[Job], None],
    *,
    interval: float = 60.0,
    catch_up: timedelta = timedelta(hours=6),
    rounds: int | None = None,
) -> Sequence[Job]:
    """Run due jobs every ``interval`` seconds, forever (or ``rounds`` times); a job that
    fails is logged and the schedule goes on. Returns the jobs run (when it returns)."""
    done: list[Job] = []
    since = clock.now() - catch_up
    count = 0
    while rounds is None or count < rounds:
        now = clock.now()
        for job in due_jobs(plan, since, now):
            log.warning("running %s", job.describe())
            try:
                run_job(job)
            except PaperfeedError as exc:
                log.error("%s failed: %s", job.describe(), exc)
            done.append(job)
        since = now
        count += 1
        if rounds is None or count < rounds:
            clock.sleep(interval)
    return done
