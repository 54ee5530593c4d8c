"""Two senders at once: the one that runs out of work first reports the other's claims as
held by another sender, not as unsent, and ``paperfeed digest send`` exits 0 (an exit of
75 would tell cron or systemd to run it again for nothing)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, update

from digest_support import (
    MONDAY,
    NOW,
    SECRET,
    Sink,
    add_papers,
    add_subscriber,
    digest_settings,
    sender_for,
    sink,
)
from paperfeed.cli import cli
from paperfeed.clock import FrozenClock
from paperfeed.deliver.digests.send import SendReport
from paperfeed.store import deliveries, subscriptions
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.tables.digests import digest_deliveries as ledger

__all__ = ["sink"]  # fixtures


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[str, Engine]]:
    engine = make_engine(db_url)
    add_papers(engine, ["Diffusion models for video", "Graphs"])
    for n in range(6):
        add_subscriber(engine, f"p{n}@example.org")
    yield db_url, engine
    engine.dispose()


def _peer_claims(engine: Engine, count: int) -> None:
    """Another sender plans the edition and claims ``count`` deliveries (still sending)."""
    with writing(engine) as conn:
        ids = subscriptions.confirmed_ids(conn, "daily", NOW)
        deliveries.plan(conn, MONDAY.key, ids, NOW)
    with writing(engine) as conn:
        assert len(deliveries.claim(conn, MONDAY.key, "peer:1", NOW, count)) == count


def test_a_peers_claims_are_in_flight_not_unsent(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path
) -> None:
    url, engine = db
    _peer_claims(engine, 2)
    settings = digest_settings(url, sink.port, tmp_path, digest_batch_size=2)
    report = sender_for(settings, engine, FrozenClock(NOW)).send(MONDAY)
    assert (report.sent, report.unsent, report.in_flight, report.stopped) == (4, 0, 2, None)
    assert report.ledger == {"sent": 4, "claimed": 2}
    assert report.as_dict()["in_flight"] == 2 and not report.halted()
    assert len(sink.messages) == 4  # the peer's two are left to the peer


def test_digest_send_exits_0_beside_a_peer_still_sending(
    db: tuple[str, Engine], sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = db
    _peer_claims(engine, 3)
    for name, value in {
        "DATABASE_URL": url,
        "FROZEN_TIME": NOW.isoformat(),
        "SECRET_KEY": SECRET,
        "INDEX_DIR": str(tmp_path / "index"),
        "LEXICAL_ENGINE": "database",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "SMTP_TLS": "none",
        "SMTP_RATE_PER_MINUTE": "0",
    }.items():
        monkeypatch.setenv(f"PAPERFEED_{name}", value)
    done = CliRunner().invoke(cli, ["digest", "send", "--date", "2026-11-23", "--json"])
    assert done.exit_code == 0, done.output
    (report,) = json.loads(done.output)
    assert (report["sent"], report["unsent"], report["in_flight"]) == (3, 0, 3)
    text = CliRunner().invoke(cli, ["digest", "send", "--date", "2026-11-23"])
    assert text.exit_code == 0 and "held by other senders 3" in text.output, text.output


@pytest.mark.postgres
def test_a_sender_waits_for_a_peers_claim_in_progress_rather_than_call_it_unsent(
    postgres_url: str, sink: Sink, tmp_path: Path
) -> None:
    """On PostgreSQL a claim passes over rows a peer is claiming at that moment (SKIP
    LOCKED), and they still read as queued until the peer commits. The sender that runs
    out of free rows then waits for that claim: the rows count as in flight, not unsent
    (once, the sender reported them unsent and exited 75 under load). The peer here is
    between claim's two statements: its rows locked, their status not yet written."""
    engine = make_engine(postgres_url)
    add_papers(engine, ["Diffusion models for video", "Graphs"])
    for n in range(6):
        add_subscriber(engine, f"p{n}@example.org")
    with writing(engine) as conn:
        deliveries.plan(conn, MONDAY.key, subscriptions.confirmed_ids(conn, "daily", NOW), NOW)
    settings = digest_settings(postgres_url, sink.port, tmp_path, digest_batch_size=2)
    sender = sender_for(settings, engine, FrozenClock(NOW))
    reports: list[SendReport] = []
    with engine.connect() as peer:
        # A peer half-way through deliveries.claim: its rows locked, not yet marked.
        claiming = peer.begin()
        mine = (ledger.c.digest == MONDAY.key) & (ledger.c.status == "queued")
        last_two = (
            select(ledger.c.subscriber_id).where(mine).order_by(ledger.c.subscriber_id.desc())
        )
        held = list(peer.execute(last_two.limit(2).with_for_update()).scalars())
        assert len(held) == 2
        running = threading.Thread(target=lambda: reports.append(sender.send(MONDAY)))
        running.start()
        deadline = time.monotonic() + 30
        while len(sink.messages) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(sink.messages) == 4, "the sender did not send the four free deliveries"
        time.sleep(0.5)  # the sender, out of free rows, looks once more
        assert running.is_alive(), "the sender finished while the peer's claim was open"
        peer.execute(
            update(ledger)
            .where(ledger.c.digest == MONDAY.key, ledger.c.subscriber_id.in_(held))
            .values(status="claimed", claimed_by="peer:1", claimed_at=NOW)
        )
        claiming.commit()
    running.join(30)
    engine.dispose()
    (report,) = reports
    assert (report.sent, report.unsent, report.in_flight, report.stopped) == (4, 0, 2, None)
    assert report.ledger == {"sent": 4, "claimed": 2}
