"""Rate-limit events (IP addresses and typed e-mail addresses) are not kept forever: each
new event deletes its bucket's events that left the window, a failed log-in too, and
``paperfeed schedule`` deletes every event older than the longest window each round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver import rate_limit
from paperfeed.deliver.community.accounts import Accounts
from paperfeed.deliver.scheduler import Plan, prune_rate_events, run_schedule
from paperfeed.deliver.security import load_secret
from paperfeed.errors import RateLimitedError, UnauthorizedError
from paperfeed.store import rate_events
from paperfeed.store.engine import writing
from paperfeed.store.tables.community import rate_events as table

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # Monday noon in New York: nothing due
MINUTE = timedelta(minutes=1)


def _kept(engine: Engine) -> list[tuple[str, str, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.bucket, table.c.key, table.c.at).order_by(table.c.id))
        return [(r.bucket, r.key, r.at) for r in rows]


def _add(engine: Engine, *events: tuple[str, str, datetime]) -> None:
    with writing(engine) as conn:
        for bucket, key, at in events:
            rate_events.record(conn, bucket, key, at)


def test_events_are_kept_for_the_longest_window() -> None:
    assert rate_limit.kept_for(load_settings(lockout_minutes=15)) == timedelta(hours=1)
    assert rate_limit.kept_for(load_settings(lockout_minutes=90)) == timedelta(minutes=90)


def test_a_new_event_deletes_its_buckets_expired_events(engine: Engine) -> None:
    rule = rate_limit.Rule("login-ip", 3, 15 * MINUTE)
    _add(
        engine,
        ("login-ip", "198.51.100.7", NOW - 16 * MINUTE),  # out of the window: goes
        ("login-ip", "198.51.100.8", NOW - 15 * MINUTE),  # just out: goes
        ("login-ip", "203.0.113.9", NOW - 14 * MINUTE),  # still counted: stays
        ("submit", "7", NOW - 50 * MINUTE),  # another bucket, another window: stays
    )
    with writing(engine) as conn:
        rate_limit.hit(conn, rule, "203.0.113.9", NOW, "too many")
    assert _kept(engine) == [
        ("login-ip", "203.0.113.9", NOW - 14 * MINUTE),
        ("submit", "7", NOW - 50 * MINUTE),
        ("login-ip", "203.0.113.9", NOW),
    ]
    with writing(engine) as conn:  # the kept event still counts
        rate_limit.hit(conn, rule, "203.0.113.9", NOW, "too many")
        with pytest.raises(RateLimitedError, match="too many"):
            rate_limit.hit(conn, rule, "203.0.113.9", NOW, "too many")


def test_failed_log_ins_of_the_past_are_deleted_by_the_next(db_url: str, engine: Engine) -> None:
    settings = load_settings(database_url=db_url, secret_key="s" * 40, frozen_time=NOW)
    clock = FrozenClock(NOW)
    accounts = Accounts(settings, engine, clock, load_secret(settings))
    with pytest.raises(UnauthorizedError):
        accounts.log_in(email="who@example.org", password="not this one", ip="192.0.2.1")
    assert {b for b, _, _ in _kept(engine)} == {"login-ip", "login-fail", "login-fail-all"}
    clock.advance(16 * 60)
    with pytest.raises(UnauthorizedError):
        accounts.log_in(email="other@example.org", password="nor this one", ip="192.0.2.2")
    kept = _kept(engine)
    assert "192.0.2.1" not in {k for _, k, _ in kept}
    assert all("who@example.org" not in key for _, key, _ in kept), kept
    assert len(kept) == 3


def test_the_scheduler_deletes_every_expired_event(db_url: str, engine: Engine) -> None:
    settings = load_settings(database_url=db_url, frozen_time=NOW, schedule_ingest=[])
    _add(
        engine,
        ("signup-email", "once@example.org", NOW - 61 * MINUTE),
        ("subscribe-ip", "192.0.2.5", NOW - 2 * 24 * 60 * MINUTE),
        ("submit", "7", NOW - 50 * MINUTE),
    )
    clock = FrozenClock(NOW)
    rounds: list[datetime] = []

    def tidy(now: datetime) -> None:
        rounds.append(now)
        prune_rate_events(engine, settings, now)

    plan = Plan.from_settings(settings)
    assert run_schedule(plan, clock, lambda job: None, housekeeping=tidy, rounds=2) == []
    assert rounds == [NOW, NOW + timedelta(seconds=60)]
    assert _kept(engine) == [("submit", "7", NOW - 50 * MINUTE)]


def test_a_failing_housekeeping_does_not_stop_the_schedule() -> None:
    settings = load_settings(frozen_time=NOW, schedule_ingest=[])

    def broken(now: datetime) -> None:
        raise UnauthorizedError("no")

    plan = Plan.from_settings(settings)
    assert run_schedule(plan, FrozenClock(NOW), print, housekeeping=broken, rounds=1) == []


def test_paperfeed_schedule_prunes(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", db_url)
    monkeypatch.setenv("PAPERFEED_FROZEN_TIME", NOW.isoformat())
    monkeypatch.setenv("PAPERFEED_SCHEDULE_INGEST", "[]")
    monkeypatch.delenv("PAPERFEED_CONFIG", raising=False)
    _add(engine, ("login-ip", "192.0.2.9", NOW - 2 * 60 * MINUTE), ("login-ip", "x", NOW))
    result = CliRunner().invoke(cli, ["schedule", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _kept(engine) == [("login-ip", "x", NOW)]
