"""``paperfeed schedule``: ingestion, thumbnails and digests at their configured local times.

:func:`due_jobs` is pure: given the plan and the instants ``since`` and ``now``, it lists
the jobs whose time fell in between. The loop (:func:`run_schedule`) asks it every
``interval`` seconds, starting ``catch_up`` before its own start, so a scheduler
restarted a little after a job's time still runs it. That is safe because every job
may run twice: ingestion merges what it already has, and a digest's ledger sends each
digest once whatever the number of runs.

Several schedulers (one per machine, say) share the work through :class:`LedgerClaims`:
before running a due job, a scheduler claims it in the job-run ledger
(:mod:`paperfeed.store.job_runs`), and only the one whose claim succeeds runs it; the run's
outcome is recorded. Every round then looks back over the whole ``catch_up`` window, so a
job whose scheduler crashed mid-run is taken over by another once its claim is stale
(PAPERFEED_SCHEDULE_CLAIM_MINUTES).

Each round also does the housekeeping that has no time of its own: it deletes the
rate-limit events older than the longest window (:func:`prune_rate_events`), so IP and
e-mail addresses typed into the forms are not kept.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver import rate_limit
from paperfeed.errors import PaperfeedError
from paperfeed.rank.editions import DigestSchedule, Edition, parse_time, schedule_of
from paperfeed.store import job_runs, rate_events
from paperfeed.store.engine import writing

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    kind: Literal["ingest", "thumbnails", "digest", "publish"]
    at: datetime
    #: The ``paperfeed ingest`` arguments of an ingest job.
    args: str = ""
    edition: Edition | None = None

    def describe(self) -> str:
        what = {
            "ingest": f"ingest {self.args}",
            "thumbnails": "thumbnails fetch",
            "publish": "index publish",
        }.get(self.kind, f"digest {self.edition_key}")
        return f"{what} (due {self.at.isoformat()})"

    @property
    def edition_key(self) -> str:
        return self.edition.key if self.edition is not None else ""

    @property
    def key(self) -> str:
        """What names the job in the ledger beside its kind and due instant."""
        if self.kind == "thumbnails":
            return "fetch"
        if self.kind == "publish":
            return "snapshot"
        return self.args if self.kind == "ingest" else self.edition_key


@dataclass(frozen=True)
class Plan:
    digests: DigestSchedule
    ingest_at: time
    ingest: tuple[str, ...]
    #: How long after each ingestion slot the thumbnail job runs; None: never.
    thumbnails_after: timedelta | None = None
    #: How often a snapshot of the index files is published (#17); None: never.
    publish_every: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Plan:
        minutes = settings.schedule_thumbnails_minutes
        stored = settings.index_snapshot_dir or settings.index_snapshot_database
        hours = settings.index_snapshot_hours
        return cls(
            schedule_of(settings),
            parse_time(settings.schedule_ingest_time),
            tuple(settings.schedule_ingest),
            timedelta(minutes=minutes) if minutes >= 0 else None,
            timedelta(hours=hours) if stored and hours > 0 else None,
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
        if day.weekday() in plan.digests.daily_days and plan.thumbnails_after is not None:
            # After the day's papers are in: their thumbnails, paced as arXiv asks.
            later = at + plan.thumbnails_after
            if since < later <= now:
                jobs.append(Job("thumbnails", later))
        day += timedelta(days=1)
    for edition in plan.digests.editions_between(since, now):
        jobs.append(Job("digest", plan.digests.slot(edition), edition=edition))
    if plan.publish_every is not None:
        # Every publish_every since the Unix epoch (UTC): the same instants on every machine.
        step = plan.publish_every
        at = EPOCH + step * ((now - EPOCH) // step)
        if since < at <= now:
            jobs.append(Job("publish", at))
    order = {"ingest": 0, "thumbnails": 1, "digest": 2, "publish": 3}
    return sorted(jobs, key=lambda j: (j.at, order[j.kind]))


class Claims(Protocol):
    """Who runs a due job when several schedulers share the work."""

    def claim(self, job: Job, now: datetime) -> bool: ...

    def finish(self, job: Job, now: datetime, *, ok: bool, outcome: str) -> None: ...


def worker_name() -> str:
    """This scheduler as the ledger names it: host, process and a random tag."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


class LedgerClaims:
    """Claims in the database's job-run ledger (:mod:`paperfeed.store.job_runs`)."""

    def __init__(self, engine: Engine, *, stale_after: timedelta, worker: str | None = None):
        self.engine = engine
        self.stale_after = stale_after
        self.worker = worker or worker_name()

    def claim(self, job: Job, now: datetime) -> bool:
        with self.engine.connect() as conn:  # a read first: most rounds find it settled
            run = job_runs.get(conn, kind=job.kind, job_key=job.key, due_at=job.at)
        if run is not None and (run.status != "running" or now - run.started_at < self.stale_after):
            return False
        with writing(self.engine) as conn:
            return job_runs.claim(
                conn,
                kind=job.kind,
                job_key=job.key,
                due_at=job.at,
                worker=self.worker,
                now=now,
                stale_after=self.stale_after,
            )

    def finish(self, job: Job, now: datetime, *, ok: bool, outcome: str) -> None:
        with writing(self.engine) as conn:
            kept = job_runs.finish(
                conn,
                kind=job.kind,
                job_key=job.key,
                due_at=job.at,
                worker=self.worker,
                status="done" if ok else "failed",
                outcome=outcome,
                now=now,
            )
        if not kept:
            log.warning("%s: another scheduler took the job over meanwhile", job.describe())


def prune_rate_events(engine: Engine, settings: Settings, now: datetime) -> int:
    """Delete the rate-limit events no rule counts any more; how many went."""
    with writing(engine) as conn:
        return rate_events.prune(conn, now - rate_limit.kept_for(settings))


def run_schedule(
    plan: Plan,
    clock: Clock,
    run_job: Callable[[Job], object],
    *,
    claims: Claims | None = None,
    housekeeping: Callable[[datetime], object] | None = None,
    interval: float = 60.0,
    catch_up: timedelta = timedelta(hours=6),
    rounds: int | None = None,
) -> Sequence[Job]:
    """Run due jobs every ``interval`` seconds, forever (or ``rounds`` times); a job that
    fails is logged and the schedule goes on. Returns the jobs run (when it returns).

    With ``claims``, each job due within the last ``catch_up`` runs only once its claim
    succeeds (see the module docstring); ``run_job`` may return a one-line outcome.
    ``housekeeping(now)`` runs at the start of every round (a failure is logged)."""
    done: list[Job] = []
    since = clock.now() - catch_up
    count = 0
    while rounds is None or count < rounds:
        now = clock.now()
        if housekeeping is not None:
            try:
                housekeeping(now)
            except (PaperfeedError, SQLAlchemyError) as exc:
                log.error("housekeeping failed: %s", exc)
        window = now - catch_up if claims is not None else since
        for job in due_jobs(plan, window, now):
            if claims is not None and (job in done or not claims.claim(job, now)):
                continue
            log.warning("running %s", job.describe())
            ok, outcome = True, "done"
            try:
                result = run_job(job)
                if isinstance(result, str) and result:
                    outcome = result
            except PaperfeedError as exc:
                log.error("%s failed: %s", job.describe(), exc)
                ok, outcome = False, str(exc)
            if claims is not None:
                claims.finish(job, clock.now(), ok=ok, outcome=outcome)
            done.append(job)
        since = now
        count += 1
        if rounds is None or count < rounds:
            clock.sleep(interval)
    return done
