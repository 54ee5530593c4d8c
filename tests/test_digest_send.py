"""Digests over a real SMTP server (aiosmtpd on 127.0.0.1): headers, both parts, links,
the one-click unsubscribe, and exactly once: the server killed mid-batch, the sender
crashing mid-batch, transient and permanent failures, two senders at once."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from digest_support import (
    MONDAY,
    NOW,
    Sink,
    add_papers,
    add_subscriber,
    digest_settings,
    sender_for,
    sink,
)
from paperfeed.clock import FrozenClock
from paperfeed.deliver.app import create_app
from paperfeed.deliver.mail.batch import SmtpBatch
from paperfeed.rank.editions import Edition
from paperfeed.store import deliveries, subscriptions
from paperfeed.store.engine import make_engine

__all__ = ["sink"]  # fixtures

TITLES = ["Diffusion models for video", "Training-free adaptation of vision models", "Graphs"]


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(db_url)
    add_papers(engine, TITLES)
    yield db_url, engine
    engine.dispose()


def _status(engine: Engine, email: str) -> str:
    with engine.connect() as conn:
        found = subscriptions.by_email(conn, email)
    assert found is not None
    return found.status


def test_a_digest_has_both_parts_the_headers_and_working_links(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    add_subscriber(engine, "ada@example.org", searches=("training-free adaptation",))
    add_subscriber(engine, "pending@example.org", status="pending")
    add_subscriber(engine, "gone@example.org", status="unsubscribed")
    settings = digest_settings(url, sink.port, tmp_path)
    clock = FrozenClock(NOW)
    report = sender_for(settings, engine, clock).send(MONDAY)
    assert (report.planned, report.sent, report.unsent, report.stopped) == (1, 1, 0, None)
    (message,) = sink.messages  # the unconfirmed and the unsubscribed get nothing
    assert message["To"] == "ada@example.org"
    assert message["From"] == "paperfeed <digest@hub.test>"
    assert message["Subject"] == "Trending papers, Monday, November 23 · 1 new for your searches"
    assert message["Date"] and message["Message-ID"].endswith("@hub.test>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^>]+)>", message["List-Unsubscribe"])
    assert https.startswith("https://hub.test/digest/unsubscribe?token=")
    assert mailto.startswith("mailto:digest@hub.test?subject=unsubscribe")
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    plain, markup = text.get_content(), html.get_content()
    for title in TITLES:
        assert title in plain and title in markup
    assert "NEW PAPERS MATCHING “TRAINING-FREE ADAPTATION”" in plain
    assert "https://hub.test/papers/2611.00002" in plain
    assert 'href="https://hub.test/papers/2611.00002"' in markup
    assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in markup
    assert https.replace("&", "&amp;") in markup and "/digest/preferences?token=" in markup

    # RFC 8058: the mail provider POSTs to the https link, without cookies.
    app = create_app(settings)
    with TestClient(app) as client:
        path = urlsplit(https)
        page = client.get(f"{path.path}?{path.query}")
        assert page.status_code == 200 and _status(engine, "ada@example.org") == "confirmed"
        answer = client.post(
            f"{path.path}?{path.query}",
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200
    assert _status(engine, "ada@example.org") == "unsubscribed"
    tuesday = Edition("daily", MONDAY.day + timedelta(days=1))
    assert sender_for(settings, engine, clock).send(tuesday).planned == 0


def test_a_second_run_sends_nothing_twice(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    for n in range(5):
        add_subscriber(engine, f"r{n}@example.org")
    settings = digest_settings(url, sink.port, tmp_path)
    clock = FrozenClock(NOW)
    first = sender_for(settings, engine, clock).send(MONDAY)
    again = sender_for(settings, engine, clock).send(MONDAY)
    assert (first.sent, again.sent, again.planned) == (5, 0, 0)
    assert set(sink.received().values()) == {1}
    late = add_subscriber(engine, "late@example.org")
    clock.advance(60)
    third = sender_for(settings, engine, clock).send(MONDAY)
    assert (third.planned, third.sent) == (1, 1) and late
    assert len(sink.messages) == 6


def test_smtp_server_killed_mid_batch_then_a_rerun_sends_the_rest_once(
    db: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = db
    emails = [f"k{n:02d}@example.org" for n in range(20)]
    for email in emails:
        add_subscriber(engine, email)
    sink = Sink(kill_after=7).start()
    settings = digest_settings(
        url, sink.port, tmp_path, digest_batch_size=6, digest_connect_attempts=3
    )
    clock = FrozenClock(NOW)
    try:
        report = sender_for(settings, engine, clock).send(MONDAY)
        assert report.stopped is not None and "SMTP server" in report.stopped
        assert report.sent == 7 and report.unsent == 13
        assert clock.slept and clock.slept[:2] == [60.0, 120.0]  # backoff doubles
        assert report.ledger == {"sent": 7, "queued": 13}
        sink.stop()
        sink.start()  # the same port, up again
        rerun = sender_for(settings, engine, clock).send(MONDAY)
        assert (rerun.sent, rerun.unsent, rerun.stopped) == (13, 0, None)
    finally:
        sink.stop()
    received = sink.received()
    assert sorted(received) == emails and set(received.values()) == {1}


class Crash(BaseException):
    """The sender process dying (not an error anything catches)."""


class CrashingBatch(SmtpBatch):
    def __init__(self, *args: object, crash_at: int) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.crash_at = crash_at
        self.count = 0

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        self.count += 1
        if self.count == self.crash_at:
            raise Crash()
        super().send(sender, recipient, data)


def test_sender_crash_mid_batch_then_a_rerun_sends_every_unsent_one_and_none_twice(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    emails = [f"c{n:02d}@example.org" for n in range(12)]
    for email in emails:
        add_subscriber(engine, email)
    settings = digest_settings(url, sink.port, tmp_path, digest_batch_size=8)
    clock = FrozenClock(NOW)
    crashing = sender_for(
        settings, engine, clock, transport=lambda: CrashingBatch(settings, clock, crash_at=5)
    )
    with pytest.raises(Crash):
        crashing.send(MONDAY)
    assert len(sink.messages) == 4
    with engine.connect() as conn:
        assert deliveries.counts(conn, MONDAY.key) == {
            "sent": 4,
            "sending": 1,  # the intent was recorded; the process died handing it over
            "claimed": 3,
            "queued": 4,
        }
    # A rerun while the dead sender's claim still holds sends only what nobody holds.
    early = sender_for(settings, engine, clock).send(MONDAY)
    assert early.sent == 4 and len(sink.messages) == 8
    clock.advance(settings.digest_claim_minutes * 60 + 1)
    rerun = sender_for(settings, engine, clock).send(MONDAY)
    assert (rerun.sent, rerun.requeued_stale, rerun.uncertain, rerun.unsent) == (3, 3, 1, 0)
    received = sink.received()
    assert len(received) == 11 and set(received.values()) == {1}
    # The uncertain one is the operator's call; resent, it keeps its Message-ID.
    with engine.connect() as conn:
        (row,) = [
            r for r in deliveries.rows(conn, MONDAY.key, range(1, 13)) if r.status == "uncertain"
        ]
    forced = sender_for(settings, engine, clock).send(MONDAY, resend_uncertain=True)
    assert forced.sent == 1 and forced.ledger == {"sent": 12}
    assert sink.messages[-1]["Message-ID"] == row.message_id
    assert sorted(sink.received()) == emails and set(sink.received().values()) == {1}


def test_a_permanent_failure_marks_the_address_failing_after_n(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    add_subscriber(engine, "good@example.org")
    add_subscriber(engine, "bad@example.org")
    sink.refuse["bad@example.org"] = "550 5.1.1 no such user"
    settings = digest_settings(url, sink.port, tmp_path, digest_max_bounces=2)
    clock = FrozenClock(NOW)
    monday = sender_for(settings, engine, clock).send(MONDAY)
    assert (monday.sent, monday.failed, monday.newly_failing) == (1, 1, [])
    assert _status(engine, "bad@example.org") == "confirmed"
    tuesday = Edition("daily", MONDAY.day + timedelta(days=1))
    clock.advance(86400)
    second = sender_for(settings, engine, clock).send(tuesday)
    assert second.newly_failing == ["bad@example.org"]
    assert _status(engine, "bad@example.org") == "failing"
    clock.advance(86400)
    wednesday = sender_for(settings, engine, clock).send(
        Edition("daily", tuesday.day + timedelta(days=1))
    )
    assert wednesday.planned == 1 and wednesday.sent == 1
    assert sink.received() == {"good@example.org": 3}


def test_a_transient_failure_is_retried_with_backoff_then_given_up(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    add_subscriber(engine, "slow@example.org")
    sink.refuse["slow@example.org"] = "451 4.7.1 try again later"
    settings = digest_settings(url, sink.port, tmp_path, digest_max_attempts=3)
    clock = FrozenClock(NOW)
    first = sender_for(settings, engine, clock).send(MONDAY)
    assert first.retry_later == 1 and first.unsent == 1
    with engine.connect() as conn:
        (row,) = deliveries.rows(conn, MONDAY.key, [1])
    assert row.next_attempt_at == NOW + timedelta(seconds=60) and row.attempts == 1
    assert sender_for(settings, engine, clock).send(MONDAY).retry_later == 0  # not due yet
    clock.advance(60)
    assert sender_for(settings, engine, clock).send(MONDAY).retry_later == 1
    clock.advance(120)
    last = sender_for(settings, engine, clock).send(MONDAY)
    assert (last.failed, last.unsent) == (1, 0)
    del sink.refuse["slow@example.org"]
    assert sender_for(settings, engine, clock).send(MONDAY).sent == 0
    assert sink.messages == []


def test_an_address_with_a_line_break_is_refused_and_the_rest_go(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    add_subscriber(engine, "evil@example.org\r\nBcc: victim@example.org")
    add_subscriber(engine, "fine@example.org")
    settings = digest_settings(url, sink.port, tmp_path)
    report = sender_for(settings, engine, FrozenClock(NOW)).send(MONDAY)
    assert (report.sent, report.failed) == (1, 1)
    assert sink.received() == {"fine@example.org": 1}
    with engine.connect() as conn:
        errors = [r.error for r in deliveries.rows(conn, MONDAY.key, [1, 2]) if r.error]
    assert errors and "header injection" in errors[0]


def test_the_rate_limit_paces_messages(db: tuple[str, Engine], sink: Sink, tmp_path: Path) -> None:
    url, engine = db
    for n in range(3):
        add_subscriber(engine, f"p{n}@example.org")
    settings = digest_settings(url, sink.port, tmp_path, smtp_rate_per_minute=30)
    clock = FrozenClock(NOW)
    batches: list[SmtpBatch] = []

    def batch() -> SmtpBatch:
        batches.append(SmtpBatch(settings, clock))
        return batches[-1]

    assert sender_for(settings, engine, clock, transport=batch).send(MONDAY).sent == 3
    assert clock.slept == [2.0, 2.0]  # 30 a minute: one every two seconds
    assert batches[0].connections == 1  # one connection for the whole batch


def test_two_senders_at_once_send_each_digest_once(db_url: str, sink: Sink, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    try:
        add_papers(engine, TITLES)
        emails = [f"t{n:02d}@example.org" for n in range(30)]
        for email in emails:
            add_subscriber(engine, email)
        settings = digest_settings(db_url, sink.port, tmp_path, digest_batch_size=4)
        reports = []

        def run(worker: str) -> None:
            reports.append(
                sender_for(settings, engine, FrozenClock(NOW), worker=worker).send(MONDAY)
            )

        threads = [threading.Thread(target=run, args=(f"w{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sum(r.sent for r in reports) == 30
        received = sink.received()
        assert sorted(received) == emails and set(received.values()) == {1}
    finally:
        engine.dispose()
