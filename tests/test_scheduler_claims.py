"""Scheduled work happens once: schedulers claim due jobs in the job-run ledger, so two of
them (two processes, or threads with engines of their own) run a due ingest once; a claim
whose scheduler crashed is taken over after PAPERFEED_SCHEDULE_CLAIM_MINUTES."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.scheduler import Job, LedgerClaims, Plan, run_schedule
from paperfeed.errors import SourceError
from paperfeed.store import job_runs
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.tables.jobs import job_runs as job_runs_table
from paperfeed.store.tables.papers import papers
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401
from tests_support import FIXTURES

DUE = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # Monday 20:30 in New York
STALE = timedelta(minutes=30)
RSS = (FIXTURES / "arxiv_rss_atom_cs.AI_2025-08-20.xml").read_text(encoding="utf-8")


def _claim(engine: Engine, worker: str, now: datetime, key: str = "rss cs.AI") -> bool:
    with writing(engine) as conn:
        return job_runs.claim(
            conn,
            kind="ingest",
            job_key=key,
            due_at=DUE,
            worker=worker,
            now=now,
            stale_after=STALE,
        )


def _finish(engine: Engine, worker: str, now: datetime) -> bool:
    with writing(engine) as conn:
        return job_runs.finish(
            conn,
            kind="ingest",
            job_key="rss cs.AI",
            due_at=DUE,
            worker=worker,
            status="done",
            outcome="fetched 1",
            now=now,
        )


def test_a_claim_is_taken_once_and_over_only_when_stale(engine: Engine) -> None:
    assert _claim(engine, "a", DUE)
    assert not _claim(engine, "b", DUE + timedelta(minutes=1))
    assert _claim(engine, "b", DUE, key="rss cs.LG")  # another job is another claim
    assert not _claim(engine, "c", DUE + STALE)  # not yet stale: exactly the timeout
    assert _claim(engine, "c", DUE + STALE + timedelta(seconds=1))  # a crashed a's claim
    assert not _finish(engine, "a", DUE + STALE * 2)  # a woke up: its outcome is not kept
    assert _finish(engine, "c", DUE + STALE * 2)
    with engine.connect() as conn:
        run = job_runs.get(conn, kind="ingest", job_key="rss cs.AI", due_at=DUE)
    assert run is not None
    assert (run.status, run.claimed_by, run.attempts, run.outcome) == ("done", "c", 2, "fetched 1")
    assert run.finished_at == DUE + STALE * 2
    assert not _claim(engine, "d", DUE + STALE * 10)  # finished runs are never taken over


def test_threads_with_engines_of_their_own_claim_a_job_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(6)]
    claims = [LedgerClaims(e, stale_after=STALE, worker=f"w{n}") for n, e in enumerate(engines)]
    job = Job("ingest", DUE, args="rss cs.AI")
    barrier = threading.Barrier(len(claims))
    won: list[str] = []

    def race(claim: LedgerClaims) -> None:
        barrier.wait()
        if claim.claim(job, DUE + timedelta(minutes=1)):
            won.append(claim.worker)

    threads = [threading.Thread(target=race, args=(c,)) for c in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(won) == 1
    for engine in engines:
        engine.dispose()


def test_the_loop_records_outcomes_and_skips_what_another_ran(engine: Engine) -> None:
    settings = load_settings(schedule_ingest=["rss cs.AI", "rss cs.LG"])
    plan = Plan.from_settings(settings)
    other = LedgerClaims(engine, stale_after=STALE, worker="other")
    assert other.claim(Job("ingest", DUE, args="rss cs.AI"), DUE)
    ran: list[str] = []

    def run_job(job: Job) -> str:
        ran.append(job.key)
        if job.key == "rss cs.LG":
            raise SourceError("arXiv is down")
        return "fetched 3"

    clock = FrozenClock(DUE + timedelta(minutes=5))
    mine = LedgerClaims(engine, stale_after=STALE, worker="mine")
    done = run_schedule(plan, clock, run_job, claims=mine, interval=60, rounds=3)
    assert ran == ["rss cs.LG"] and [j.key for j in done] == ["rss cs.LG"]
    with engine.connect() as conn:
        failed = job_runs.get(conn, kind="ingest", job_key="rss cs.LG", due_at=DUE)
    assert failed is not None and (failed.status, failed.outcome) == ("failed", "arXiv is down")

    # "other" crashed: once its claim is stale a later round takes the job over.
    clock.advance(STALE.total_seconds())
    later = run_schedule(plan, clock, run_job, claims=mine, interval=60, rounds=1)
    assert [j.key for j in later if j.kind == "ingest"] == ["rss cs.AI"]
    assert ran.count("rss cs.AI") == 1 and ran.count("rss cs.LG") == 1  # failed: not retried
    with engine.connect() as conn:
        taken = job_runs.get(conn, kind="ingest", job_key="rss cs.AI", due_at=DUE)
    assert taken is not None and (taken.status, taken.claimed_by, taken.attempts) == (
        "done",
        "mine",
        2,
    )
    assert taken.outcome == "fetched 3"


@pytest.mark.slow  # two scheduler processes
def test_two_scheduler_processes_ingest_a_due_job_once(
    db_url: str, replay_server: ReplayServer, tmp_path: Path
) -> None:
    replay_server.script("/atom/cs.AI", Reply(200, RSS))  # one reply: a second is a failure
    env = dict(
        os.environ,
        PAPERFEED_DATABASE_URL=db_url,
        PAPERFEED_FROZEN_TIME=(DUE + timedelta(minutes=5)).isoformat(),
        PAPERFEED_ARXIV_RSS_URL=f"{replay_server.url}/atom/",
        PAPERFEED_SCHEDULE_INGEST='["rss cs.AI"]',
        PAPERFEED_INDEX_DIR=str(tmp_path / "index"),
        PAPERFEED_SQLITE_BUSY_TIMEOUT_MS="30000",
        PAPERFEED_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "paperfeed", "schedule", "--once"]
    processes = [
        subprocess.Popen(
            command,
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert len(replay_server.requests_to("/atom/cs.AI")) == 1
    ran = [err for _, err in outputs if "running ingest rss cs.AI" in err]
    assert len(ran) == 1, outputs
    engine = make_engine(db_url)
    with engine.connect() as conn:
        runs = conn.execute(select(job_runs_table)).all()
        stored = conn.execute(select(func.count()).select_from(papers)).scalar_one()
    engine.dispose()
    assert [(r.kind, r.job_key, r.status, r.attempts) for r in runs] == [
        ("ingest", "rss cs.AI", "done", 1)
    ]
    assert stored > 0
