"""Subscribers, saved searches, the consent trail and the deliveries ledger, on SQLite and
PostgreSQL; the PostgreSQL claim skips rows another sender holds locked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.store import deliveries, subscriptions
from paperfeed.store.engine import writing

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _subscriber(engine: Engine, email: str, *, confirmed: bool = True) -> int:
    with writing(engine) as conn:
        sid = subscriptions.create(conn, email=email, frequency="daily", link_key="k" * 20, now=NOW)
        if confirmed:
            subscriptions.change(
                conn, sid, status="confirmed", confirmed_at=NOW, confirmed_ip="192.0.2.1"
            )
    return sid


def test_subscriber_round_trip_with_searches_and_trail(engine: Engine) -> None:
    sid = _subscriber(engine, "Ada@Example.org", confirmed=False)
    with writing(engine) as conn:
        subscriptions.set_searches(conn, sid, ["training-free adaptation", "cat:cs.CV video"])
        subscriptions.record_event(conn, sid, "request", "ada@example.org", "192.0.2.1", NOW)
    with engine.connect() as conn:
        found = subscriptions.by_email(conn, "ADA@example.org")
        assert found is not None and found.id == sid
        assert found.status == "pending" and found.email == "ada@example.org"
        assert found.searches == ("training-free adaptation", "cat:cs.CV video")
        assert subscriptions.events(conn, sid) == [("request", "ada@example.org", "192.0.2.1", NOW)]
        assert subscriptions.confirmed_ids(conn, "daily", NOW) == []
    with writing(engine) as conn:
        subscriptions.set_searches(conn, sid, ["diffusion"])
        subscriptions.change(conn, sid, status="confirmed", confirmed_at=NOW)
    with engine.connect() as conn:
        assert subscriptions.many(conn, [sid])[sid].searches == ("diffusion",)
        assert subscriptions.confirmed_ids(conn, "daily", NOW) == [sid]
        assert subscriptions.confirmed_ids(conn, "weekly", NOW) == []
        assert subscriptions.count_by_status(conn) == {"confirmed": 1}


def test_the_ledger_plans_once_and_claims_each_row_once(engine: Engine) -> None:
    ids = [_subscriber(engine, f"s{n}@example.org") for n in range(6)]
    with writing(engine) as conn:
        assert deliveries.plan(conn, "daily:2026-11-23", ids[:4], NOW) == 4
        assert deliveries.plan(conn, "daily:2026-11-23", ids, NOW) == 2
    with writing(engine) as conn:
        first = deliveries.claim(conn, "daily:2026-11-23", "a", NOW, 4)
    with writing(engine) as conn:
        second = deliveries.claim(conn, "daily:2026-11-23", "b", NOW, 4)
    assert [d.subscriber_id for d in first] == ids[:4]
    assert [d.subscriber_id for d in second] == ids[4:]
    assert {d.status for d in first + second} == {"claimed"}
    digest = "daily:2026-11-23"
    with writing(engine) as conn:
        assert deliveries.mark_sending(conn, digest, ids[0], "a", "<m0@x>", NOW)
        assert not deliveries.mark_sending(conn, digest, ids[4], "a", "<m4@x>", NOW)
        deliveries.mark_outcome(conn, digest, ids[0], "sent", NOW)
        deliveries.mark_sending(conn, digest, ids[1], "a", "<m1@x>", NOW)
        later = NOW + timedelta(minutes=5)
        deliveries.mark_outcome(conn, digest, ids[2], "retry", NOW, next_attempt_at=later)
    with engine.connect() as conn:
        assert deliveries.counts(conn, digest) == {
            "sent": 1,
            "sending": 1,
            "retry": 1,
            "claimed": 3,
        }
        assert deliveries.next_due(conn, digest) == later
    with writing(engine) as conn:
        assert deliveries.release_stale(conn, digest, NOW + timedelta(seconds=1)) == (3, 1)
        assert deliveries.claim(conn, digest, "c", NOW, 10) != []
    with engine.connect() as conn:
        rows = {d.subscriber_id: d for d in deliveries.rows(conn, digest, ids)}
    assert rows[ids[0]].status == "sent" and rows[ids[0]].attempts == 1
    assert rows[ids[1]].status == "uncertain" and rows[ids[1]].message_id == "<m1@x>"
    assert rows[ids[2]].status == "retry"  # not due until five minutes later
    with writing(engine) as conn:
        assert deliveries.requeue_uncertain(conn, digest, NOW) == 1


@pytest.mark.postgres
def test_two_postgres_senders_never_claim_the_same_row(postgres_url: str) -> None:
    from paperfeed.store.engine import make_engine

    engine = make_engine(postgres_url)
    try:
        ids = [_subscriber(engine, f"p{n}@example.org") for n in range(10)]
        with writing(engine) as conn:
            deliveries.plan(conn, "daily:2026-11-23", ids, NOW)
        with engine.connect() as first, engine.connect() as second, first.begin():
            held = deliveries.claim(first, "daily:2026-11-23", "a", NOW, 6)
            # While the first transaction still holds its rows locked, the second
            # skips them instead of waiting or taking them too.
            with second.begin():
                other = deliveries.claim(second, "daily:2026-11-23", "b", NOW, 6)
        assert [d.subscriber_id for d in held] == ids[:6]
        assert [d.subscriber_id for d in other] == ids[6:]
    finally:
        engine.dispose()
