"""``paperfeed digest preview|send`` and ``paperfeed schedule``, with a real SMTP server;
the scheduler's pure decision of what is due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from digest_support import SECRET, Sink, add_papers, add_subscriber, sink
from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.deliver.scheduler import Job, Plan, due_jobs, run_schedule
from paperfeed.rank.editions import DigestSchedule
from paperfeed.store.engine import make_engine
from ports import free_port

__all__ = ["sink"]  # fixtures

EASTERN = ZoneInfo("America/New_York")
PLAN = Plan(DigestSchedule(EASTERN), time(20, 30), ("rss cs.LG",))


def test_due_jobs_in_the_hub_time_zone() -> None:
    # Monday 2026-11-23, 20:00 to 21:30 New York (01:00 to 02:30 UTC on Tuesday).
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    jobs = due_jobs(PLAN, start, start + timedelta(minutes=90))
    assert [(j.kind, j.at.astimezone(EASTERN).time(), j.args, j.edition_key) for j in jobs] == [
        ("ingest", time(20, 30), "rss cs.LG", ""),
        ("digest", time(21, 0), "", "daily:2026-11-23"),
    ]
    assert due_jobs(PLAN, start, start + timedelta(minutes=29)) == []
    # Friday: the weekly digest only; Saturday: nothing.
    friday = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    assert [j.edition_key for j in due_jobs(PLAN, friday, friday + timedelta(hours=2))] == [
        "weekly:2026-W48"
    ]
    saturday = datetime(2026, 11, 29, 0, 0, tzinfo=UTC) + timedelta(hours=5)
    assert due_jobs(PLAN, saturday, saturday + timedelta(hours=20)) == []


def test_the_loop_runs_each_job_once_and_survives_a_failing_one() -> None:
    from paperfeed.errors import SourceError

    clock = FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    ran: list[Job] = []

    def run_job(job: Job) -> None:
        ran.append(job)
        if job.kind == "ingest":
            raise SourceError("arXiv is down")

    done = run_schedule(PLAN, clock, run_job, interval=600, catch_up=timedelta(0), rounds=12)
    assert [j.kind for j in done] == ["ingest", "digest"] == [j.kind for j in ran]
    assert clock.slept == [600] * 11


@pytest.fixture
def hub(db_url: str, sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    env = {
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_FROZEN_TIME": "2026-11-23T15:00:00+00:00",
        "PAPERFEED_INDEX_DIR": str(tmp_path / "index"),
        "PAPERFEED_LEXICAL_ENGINE": "database",
        "PAPERFEED_SECRET_KEY": SECRET,
        "PAPERFEED_BASE_URL": "https://hub.test",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(sink.port),
        "PAPERFEED_SMTP_TLS": "none",
        "PAPERFEED_SMTP_RATE_PER_MINUTE": "0",
        "PAPERFEED_MAIL_FROM": "paperfeed <digest@hub.test>",
        "PAPERFEED_SCHEDULE_INGEST": '["sample --if-empty --no-embed"]',
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    engine = make_engine(db_url)
    add_papers(engine, ["Diffusion models for video", "Training-free adaptation"])
    add_subscriber(engine, "ada@example.org", searches=("diffusion",))
    add_subscriber(engine, "bo@example.org", frequency="weekly")
    return engine


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_preview_writes_the_message_and_its_html(hub: Engine, sink: Sink, tmp_path: Path) -> None:
    result = _run("digest", "preview", "--email", "ada@example.org", "--out", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    eml = tmp_path / "p" / "digest-daily-2026-11-23-ada@example.org.eml"
    html = eml.with_suffix(".html")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "ada@example.org" and message["List-Unsubscribe-Post"]
    assert "New papers matching “diffusion”" in html.read_text()
    assert sink.messages == []
    stranger = _run(
        "digest",
        "preview",
        "--email",
        "x@example.org",
        "--frequency",
        "weekly",
        "--date",
        "2026-11-27",
        "--out",
        str(tmp_path / "p"),
    )
    assert stranger.exit_code == 0, stranger.output
    assert "Your weekly papers, Friday, November 27" in stranger.output


def test_send_dry_run_then_send_then_again(hub: Engine, sink: Sink) -> None:
    dry = _run("digest", "send", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    (report,) = json.loads(dry.output)
    assert (report["digest"], report["sent"], report["dry_run"]) == ("daily:2026-11-23", 1, True)
    assert sink.messages == []
    sent = _run("digest", "send", "--date", "2026-11-23")
    assert sent.exit_code == 0, sent.output
    assert "daily:2026-11-23: sent 1" in sent.output
    again = _run("digest", "send", "--date", "2026-11-23")
    assert "sent 0" in again.output and len(sink.messages) == 1
    friday = _run("digest", "send", "--date", "2026-11-27", "--json")
    assert [r["digest"] for r in json.loads(friday.output)] == ["weekly:2026-W48"]
    assert sink.received() == {"ada@example.org": 1, "bo@example.org": 1}
    saturday = _run("digest", "send", "--date", "2026-11-28")
    assert saturday.exit_code == 0 and "no digest goes out on 2026-11-28" in saturday.output
    bad = _run("digest", "send", "--date", "yesterday")
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_send_with_the_server_down_exits_75_and_a_rerun_delivers(
    hub: Engine, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERFEED_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("PAPERFEED_DIGEST_RETRY_SECONDS", "0")
    down = _run("digest", "send", "--json")
    assert down.exit_code == 75, down.output
    (report,) = json.loads(down.output)
    assert report["unsent"] == 1 and "could not reach" in report["stopped"]
    monkeypatch.setenv("PAPERFEED_SMTP_PORT", str(sink.port))
    assert _run("digest", "send").exit_code == 0
    assert sink.received() == {"ada@example.org": 1}


@pytest.mark.slow
def test_schedule_once_runs_what_is_due(
    hub: Engine, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 21:05 in New York on Monday: the 20:30 ingestion and the 21:00 digest are due.
    monkeypatch.setenv("PAPERFEED_FROZEN_TIME", "2026-11-24T02:05:00+00:00")
    result = _run("schedule", "--once")
    assert result.exit_code == 0, result.output
    assert "daily:2026-11-23: sent 1" in result.output
    assert sink.received() == {"ada@example.org": 1}
