"""Helpers of the digest tests: an SMTP sink (aiosmtpd on 127.0.0.1) that can refuse
addresses and be killed mid-batch, papers and subscribers stored directly, and a
sender wired like the CLI's."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings, load_settings
from paperfeed.deliver import security
from paperfeed.deliver.digests.content import DigestContent
from paperfeed.deliver.digests.send import DigestSender
from paperfeed.deliver.digests.subscriptions import Subscriptions
from paperfeed.index.lexical import database as lexical
from paperfeed.models import Paper
from paperfeed.rank.editions import Edition
from paperfeed.store import papers as paper_store
from paperfeed.store import subscriptions
from paperfeed.store.engine import writing
from ports import smtp_server

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday, 10:00 in New York
MONDAY = Edition("daily", date(2026, 11, 23))
SECRET = "digest-test-secret-" + "y" * 40


@dataclass
class Sink:
    """An SMTP server that keeps what it accepts; ``refuse`` maps an address to a reply."""

    #: Chosen (free) by the first :meth:`start`; a later start comes back on the same port.
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    kill_after: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None
    killer: threading.Thread | None = None

    def start(self) -> Sink:
        self.controller = smtp_server(self, self.port or None)
        self.port = self.controller.port
        return self

    def stop(self) -> None:
        if self.killer is not None:
            self.killer.join(10)
            self.killer = None
        elif self.controller is not None:
            self.controller.stop()
        self.controller = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
            count = len(self.messages)
        if self.kill_after is not None and count == self.kill_after:
            controller = self.controller
            self.kill_after = None
            assert controller is not None
            self.killer = threading.Thread(target=controller.stop, daemon=True)
            self.killer.start()
        return "250 OK"

    def received(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["To"]) for m in self.messages)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A :class:`Sink` on a free port for the test, stopped after it."""
    server = Sink().start()
    yield server
    server.stop()


def digest_settings(db_url: str, port: int, tmp_path: Any, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "frozen_time": NOW,
        "index_dir": str(tmp_path / "index"),
        "base_url": "https://hub.test",
        "secret_key": SECRET,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "mail_from": "paperfeed <digest@hub.test>",
        "http_timeout_seconds": 5,
        "lexical_engine": "database",
        "smtp_rate_per_minute": 0,
    }
    values.update(extra)
    return load_settings(**values)


def sender_for(
    settings: Settings, engine: Engine, clock: FrozenClock, **options: Any
) -> DigestSender:
    subs = Subscriptions(settings, engine, clock, security.load_secret(settings))
    return DigestSender(settings, engine, clock, subs, DigestContent(settings, engine), **options)


def add_papers(engine: Engine, titles: list[str], *, day: date = MONDAY.day) -> list[int]:
    papers = [
        Paper(
            title=title,
            abstract=f"We study {title.lower()} in depth. " * 8,
            arxiv_id=f"2611.{n:05d}",
            authors=("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
            categories=("cs.LG",),
            primary_category="cs.LG",
            featured_on=day,
            published_at=NOW,
            upvotes=len(titles) - n,
            source="test",
        ).with_arxiv_links()
        for n, title in enumerate(titles, 1)
    ]
    with writing(engine) as conn:
        ids = paper_store.insert_papers(conn, papers, NOW)
        lexical.sync(conn, ids)
    return ids


def add_subscriber(
    engine: Engine,
    email: str,
    *,
    searches: tuple[str, ...] = (),
    status: str = "confirmed",
    frequency: str = "daily",
) -> int:
    with writing(engine) as conn:
        sid = subscriptions.create(
            conn,
            email=email,
            frequency=frequency,
            link_key="key-" + email,
            now=NOW,  # type: ignore[arg-type]
        )
        subscriptions.change(
            conn, sid, status=status, confirmed_at=NOW if status == "confirmed" else None
        )
        subscriptions.set_searches(conn, sid, list(searches))
    return sid
