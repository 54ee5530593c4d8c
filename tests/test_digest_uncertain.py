"""A relay that drops the connection after the message's final ``.`` and before its reply
may have accepted the digest: the delivery is ``uncertain``, counted in the report and
never resent by itself (issue #15 item 5). A real SMTP server (aiosmtpd on 127.0.0.1)
closes the connection at exactly that moment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from digest_support import (
    MONDAY,
    NOW,
    Sink,
    add_papers,
    add_subscriber,
    digest_settings,
    sender_for,
)
from paperfeed.clock import FrozenClock
from paperfeed.deliver.digests.send import summary
from paperfeed.deliver.mail import delivery_rules as rules
from paperfeed.deliver.mail.batch import HandedOverError
from paperfeed.store import deliveries
from paperfeed.store.engine import make_engine


class DroppingSink(Sink):
    """Keeps every message, but closes the connection instead of answering the final
    ``.`` of the first message to ``drop_for``."""

    drop_for: str = "drop@example.org"
    dropped: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.drop_for in envelope.rcpt_tos and not self.dropped:
            self.dropped += 1
            server.transport.close()
        return answer


@pytest.fixture
def sink() -> Iterator[DroppingSink]:
    server = DroppingSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url)
    add_papers(made, ["Diffusion models for video", "Graph networks"])
    yield made
    made.dispose()


def test_a_drop_after_the_final_dot_is_uncertain_and_not_resent(
    db_url: str, engine: Engine, sink: DroppingSink, tmp_path: Path
) -> None:
    ids = {
        email: add_subscriber(engine, email)
        for email in ("ada@example.org", "drop@example.org", "zoe@example.org")
    }
    settings = digest_settings(db_url, sink.port, tmp_path, digest_retry_seconds=0)
    clock = FrozenClock(NOW)
    report = sender_for(settings, engine, clock).send(MONDAY)
    assert sink.dropped == 1
    assert (report.sent, report.uncertain, report.unsent, report.stopped) == (2, 1, 0, None)
    assert "uncertain 1" in summary(report)
    with engine.connect() as conn:
        rows = {r.subscriber_id: r for r in deliveries.rows(conn, MONDAY.key, list(ids.values()))}
    assert rows[ids["drop@example.org"]].status == "uncertain"
    assert "before the server's reply" in (rows[ids["drop@example.org"]].error or "")
    rerun = sender_for(settings, engine, clock).send(MONDAY)
    assert (rerun.sent, rerun.uncertain) == (0, 1)
    assert sink.received() == {"ada@example.org": 1, "drop@example.org": 1, "zoe@example.org": 1}


def test_a_drop_before_the_final_dot_is_requeued() -> None:
    """Only the moment after the final dot is uncertain; a connection lost earlier means
    the server discarded the message, so it goes back to the queue."""
    import smtplib

    uncertain = rules.classify(HandedOverError("Connection unexpectedly closed"))
    assert uncertain.kind == "uncertain"
    decision = rules.decide(uncertain, attempts=0, now=NOW, max_attempts=3, retry_base=1)
    assert (decision.status, decision.counted, decision.bounce) == ("uncertain", True, False)
    earlier = rules.classify(smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))
    assert earlier.kind == "connection"
    assert rules.decide(earlier, attempts=0, now=NOW, max_attempts=3, retry_base=1).status == (
        "queued"
    )
